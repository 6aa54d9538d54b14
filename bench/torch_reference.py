#!/usr/bin/env python3
"""PyTorch twin of `cari-mtl bench --reference` (src/cli/bench.rs::bench_reference) and of
../shared/reference/BENCH-MODEL.md: one training step of a small three-task network and one
embedding pass, timed the same way, printing the same RESULT line.

    python bench/torch_reference.py [--device cpu|cuda] [--steps 50]

Model: trunk of four 3x3 convs (3->32->64->128->256, padding 1, ReLU, 2x2 max-pool after the
first three), global average pool -> Z (256); three heads Linear 256->128, ReLU, Linear
128->200; weight module Linear 256->3 on Z, softmax, mean over the batch. Step: cross-entropy
per head (+0.01 * centre loss 1/2||h - c||^2 on the verification head's hidden vector, mean
over the batch), network loss sum w_i L_i with w constant, L4 = sum w_i / L_i with L constant,
one backward, plain SGD lr 0.01 on every parameter. All parameters start as N(0, 1) * 0.05, as
in the Rust twin. Threads: all cores (torch.set_num_threads(os.cpu_count())).
"""

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(i, o, 3, padding=1) for i, o in [(3, 32), (32, 64), (64, 128), (128, 256)]]
        )
        self.heads = nn.ModuleList(
            [nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 200)]) for _ in range(3)]
        )
        self.psi = nn.Linear(256, 3)

    def trunk(self, x):
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i < 3:
                x = F.max_pool2d(x, 2)
        return x.mean(dim=(2, 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--steps", type=int, default=50, help="timed steps (after 5 warm-up)")
    args = parser.parse_args()

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    torch.manual_seed(0)
    net = Net().to(device)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    psi_params = list(net.psi.parameters())
    psi_ids = {id(p) for p in psi_params}
    net_params = [p for p in net.parameters() if id(p) not in psi_ids]
    net_opt = torch.optim.SGD(net_params, lr=0.01)
    psi_opt = torch.optim.SGD(psi_params, lr=0.01)

    batch = 64
    images = torch.randn(batch, 3, 64, 64, device=device)
    labels = [torch.randint(0, 200, (batch,), device=device) for _ in range(3)]
    centres = torch.zeros(batch, 128, device=device)

    def step():
        z = net.trunk(images)
        losses = []
        for h, (a, b) in enumerate(net.heads):
            hidden = F.relu(a(z))
            loss = F.cross_entropy(b(hidden), labels[h])
            if h == 0:
                loss = loss + 0.01 * (0.5 * ((hidden - centres) ** 2).sum() / batch)
            losses.append(loss)
        losses = torch.stack(losses)
        w = F.softmax(net.psi(z), dim=-1).mean(0)
        total = (w.detach() * losses).sum() + (w * losses.detach().reciprocal()).sum()
        net_opt.zero_grad(set_to_none=True)
        psi_opt.zero_grad(set_to_none=True)
        total.backward()
        net_opt.step()
        psi_opt.step()

    for _ in range(5):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    step_ms = statistics.median(times) * 1e3

    all_images = torch.randn(2000, 3, 64, 64, device=device)

    @torch.no_grad()
    def embed():
        for k in range(10):
            x = all_images[k * 200 : (k + 1) * 200]
            h = F.relu(net.heads[0][0](net.trunk(x)))
            h.cpu().tolist()  # to host, as to_vec2 does in the Rust twin

    embed()
    embed_times = []
    for _ in range(5):
        t = time.perf_counter()
        embed()
        embed_times.append(time.perf_counter() - t)
    embed_s = statistics.median(embed_times)

    label = f"{device} ({torch.__version__}, {torch.get_num_threads()} threads)"
    print(
        f"PyTorch reference workload on {label}: median {step_ms:.1f} ms/step over "
        f"{args.steps} steps; embedding pass median {embed_s:.3f} s over 5"
    )
    print(f"RESULT step_ms={step_ms:.3f} embed_s={embed_s:.4f}")


if __name__ == "__main__":
    main()
