//! A curve drawn the way Fig. 3 and the gradients view both draw theirs. Its own file so that
//! neither panel imports the other's (fig3 already calls into gradients).

use egui::Color32;
use egui_plot::{Line, LineStyle, PlotPoints, PlotUi};

/// The x axis of an empty plot (weights, losses, gradients): steps 0 to this.
pub const EMPTY_STEPS: f64 = 100.0;

/// One curve: the smoothed line, and behind it, faint and without hover, the raw one (when
/// smoothing is on). `points(smooth)` gives either.
pub fn raw_and_smoothed<'a>(
    plot_ui: &mut PlotUi<'a>,
    name: String,
    colour: Color32,
    style: LineStyle,
    raw_too: bool,
    points: impl Fn(bool) -> PlotPoints<'a>,
) {
    if raw_too {
        plot_ui.line(
            Line::new(name.clone(), points(false))
                .color(colour.gamma_multiply(0.25))
                .width(1.0)
                .style(style)
                .allow_hover(false),
        );
    }
    plot_ui.line(
        Line::new(name, points(true))
            .color(colour)
            .width(2.0)
            .style(style),
    );
}
