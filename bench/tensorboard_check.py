#!/usr/bin/env python3
"""Read an export for TensorBoard with TensorBoard's own code and check it against the run.

    python3 bench/tensorboard_check.py EXPORT_DIR [RUN_DIR]

Prints, per scalar tag in EXPORT_DIR's event files, the count and the first and last (step,
value), read with TensorBoard's EventAccumulator. With RUN_DIR, every row of
RUN_DIR/metrics.csv must appear under weight/{verif,visual,cari} and loss/{verif,visual,cari}
at its step, with the same value (1e-6 relative; the events hold f32) and the same wall time
up to one offset for the whole run (reported), and each key of summary.json's `metrics` must
appear as eval/<key>. Every projector_config.pbtxt under EXPORT_DIR is parsed with
TensorBoard's own proto; the files it names must exist inside its folder, tensors.tsv must
have as many rows as metadata.tsv (less its header, which the projector assumes when the first
line holds a tab), and the sprite must be the grid the projector expects. Exit code 1 on any
mismatch.

Needs the tensorboard package (python3 -m venv /tmp/tb-venv && /tmp/tb-venv/bin/pip install
tensorboard; then run this with /tmp/tb-venv/bin/python).
"""
import csv
import datetime
import json
import math
import os
import struct
import sys

from google.protobuf import text_format
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

TASKS = ["verif", "visual", "cari"]
COLUMNS = {f"w_{t}": f"weight/{t}" for t in TASKS} | {f"loss_{t}": f"loss/{t}" for t in TASKS}
REL_TOL = 1e-6
# metrics.csv keeps wall_s to 4 decimals.
WALL_TOL_S = 1e-3
MAX_SPRITE_PX = 8192


def same_value(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def load_scalars(export_dir):
    if not any("tfevents" in f for f in os.listdir(export_dir)):
        sys.exit(f"{export_dir}: no event files (names containing 'tfevents')")
    acc = ea.EventAccumulator(export_dir, size_guidance={ea.SCALARS: 0})
    acc.Reload()
    return {tag: acc.Scalars(tag) for tag in sorted(acc.Tags()["scalars"])}


def print_tags(scalars):
    for tag, events in scalars.items():
        first, last = events[0], events[-1]
        print(
            f"{tag:<20} {len(events):>6} events  first (step {first.step}, {first.value:.6g})"
            f"  last (step {last.step}, {last.value:.6g})"
        )


def by_step(events, tag, problems):
    out, repeated = {}, []
    for e in events:
        if e.step in out:
            repeated.append(e.step)
        out[e.step] = e
    if repeated:
        problems.append(
            f"{tag}: {len(repeated)} steps appear more than once, e.g. {repeated[:3]} "
            "(exported twice into one folder?)"
        )
    return out


def check_metrics(scalars, run_dir, problems):
    path = os.path.join(run_dir, "metrics.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        problems.append(f"{path}: no rows")
        return
    offsets = []
    for column, tag in COLUMNS.items():
        if tag not in scalars:
            problems.append(f"{tag}: missing (metrics.csv column {column})")
            continue
        events = by_step(scalars[tag], tag, problems)
        steps, missing = set(), []
        for row in rows:
            step, want = int(row["step"]), float(row[column])
            steps.add(step)
            e = events.get(step)
            if e is None:
                missing.append(step)
                continue
            if not same_value(e.value, want):
                problems.append(f"{tag} step {step}: {e.value!r} in the events, {want!r} in metrics.csv")
            offsets.append((e.wall_time - float(row["wall_s"]), tag, step))
        if missing:
            problems.append(f"{tag}: no event at {len(missing)} steps of metrics.csv, e.g. {missing[:3]}")
        extra = sorted(set(events) - steps)
        if extra:
            problems.append(f"{tag}: {len(extra)} events at steps not in metrics.csv, e.g. {extra[:3]}")
    if offsets:
        check_offsets(offsets, problems)
    print(f"metrics.csv: {len(rows)} rows × {len(COLUMNS)} columns compared")


def check_offsets(offsets, problems):
    offset = offsets[0][0]
    when = datetime.datetime.fromtimestamp(offset, datetime.timezone.utc)
    print(f"wall time offset: {offset:.4f} s (the run started {when:%Y-%m-%d %H:%M:%S} UTC)")
    worst = max(offsets, key=lambda o: abs(o[0] - offset))
    if abs(worst[0] - offset) > WALL_TOL_S:
        problems.append(
            f"{worst[1]} step {worst[2]}: wall time off by {worst[0] - offset:+.6f} s from the "
            f"run's offset (tolerance {WALL_TOL_S} s)"
        )


def check_summary(scalars, run_dir, problems):
    path = os.path.join(run_dir, "summary.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        metrics = json.load(f).get("metrics")
    if not isinstance(metrics, dict):
        return
    for key, want in sorted(metrics.items()):
        tag = f"eval/{key}"
        if tag not in scalars:
            problems.append(f"{tag}: missing (summary.json metrics.{key})")
        elif isinstance(want, (int, float)) and not any(same_value(e.value, want) for e in scalars[tag]):
            got = [e.value for e in scalars[tag]]
            problems.append(f"{tag}: {got} in the events, {want!r} in summary.json")
    print(f"summary.json: {len(metrics)} metrics compared")


def tsv_lines(path):
    # The projector skips lines that are blank after trimming.
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def inside(folder, name, problems, what):
    path = os.path.realpath(os.path.join(folder, name))
    if os.path.commonpath([os.path.realpath(folder), path]) != os.path.realpath(folder):
        problems.append(f"{what} {name!r} leads outside {folder} (TensorBoard refuses it)")
        return None
    if not os.path.isfile(path):
        problems.append(f"{what} {name!r} does not exist in {folder}")
        return None
    return path


def check_embedding(folder, emb, problems):
    label = f"{folder}: embedding {emb.tensor_name!r}"
    tensors = inside(folder, emb.tensor_path, problems, f"{label} tensor_path")
    if tensors is None:
        return
    rows = [line.split("\t") for line in tsv_lines(tensors)]
    if not rows:
        problems.append(f"{label}: {emb.tensor_path} has no rows")
        return
    dims = {len(r) for r in rows}
    if len(dims) != 1 or min(dims) < 2:
        problems.append(f"{label}: tensor rows have {sorted(dims)} values (need one size ≥ 2)")
    n = len(rows)
    if emb.metadata_path:
        meta_path = inside(folder, emb.metadata_path, problems, f"{label} metadata_path")
        if meta_path is not None:
            lines = tsv_lines(meta_path)
            points = len(lines) - (1 if lines and "\t" in lines[0] else 0)
            if points != n:
                problems.append(f"{label}: {n} tensor rows, {points} metadata rows")
    if emb.sprite.image_path:
        check_sprite(folder, emb, n, label, problems)
    print(f"{label}: {n} points of {sorted(dims)} dims")


def check_sprite(folder, emb, n, label, problems):
    path = inside(folder, emb.sprite.image_path, problems, f"{label} sprite")
    if path is None:
        return
    size = png_size(path)
    dims = list(emb.sprite.single_image_dim)
    cols = math.isqrt(n - 1) + 1 if n else 0
    if size is None or len(dims) != 2:
        problems.append(f"{label}: sprite is not a PNG or single_image_dim is not two numbers")
    elif size != (cols * dims[0], cols * dims[1]) or max(size) > MAX_SPRITE_PX:
        problems.append(
            f"{label}: sprite is {size[0]}×{size[1]} px; expected {cols}×{cols} pictures of "
            f"{dims[0]}×{dims[1]} within {MAX_SPRITE_PX} px"
        )


def check_projectors(export_dir, problems):
    found = 0
    for folder, _, files in os.walk(export_dir):
        if "projector_config.pbtxt" not in files:
            continue
        found += 1
        config = ProjectorConfig()
        path = os.path.join(folder, "projector_config.pbtxt")
        try:
            with open(path, encoding="utf-8") as f:
                text_format.Parse(f.read(), config)
        except text_format.ParseError as e:
            problems.append(f"{path}: {e}")
            continue
        for emb in config.embeddings:
            check_embedding(folder, emb, problems)
    if not found:
        print("no projector_config.pbtxt")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    export_dir = sys.argv[1]
    scalars = load_scalars(export_dir)
    print_tags(scalars)
    problems = []
    if len(sys.argv) == 3:
        check_metrics(scalars, sys.argv[2], problems)
        check_summary(scalars, sys.argv[2], problems)
    check_projectors(export_dir, problems)
    if problems:
        print(f"\n{len(problems)} MISMATCHES:")
        for p in problems[:50]:
            print(f"  {p}")
        if len(problems) > 50:
            print(f"  … and {len(problems) - 50} more")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
