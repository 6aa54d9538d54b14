#!/usr/bin/env python3
"""Build a small tree in the CaVI layout, with its quirks and some bad files, for trying
`cari-mtl train --dataset cavi:PATH`. Needs Pillow and numpy.

    python3 bench/make_cavi_tree.py /tmp/cavi_tree [--people 30] [--per 8] [--pairs-only]

By default the tree has the train/test lists the CaVINet release ships beside CaVI_Dataset/
(github.com/lsaiml/CaVINet, train-test-files/): training_11.txt and training_12.txt (split 1's
training pairs in two parts), testing_1.txt, validation.txt and complete_identity_list.txt, every
line `id Caricature/id\\file.jpg id Real/id\\file.jpg label`, CRLF. As in the release (our reading:
it documents none of this), the test pairs are held-out *images* of the training people: per
person and modality the last quarter of the images are test images, one more is a validation
image, the rest train; matched pairs join a person's caricatures and photos of one set, mismatched
pairs join a person's caricature with another's photo. A few people are in the training lists
only (the release lists 205 people and tests 195). With --pairs-only the tree has one loose
CaVI_Dataset/pairs.txt instead (random pairs, one naming a missing image, one malformed line).
"""
import argparse
import os
import random

import numpy as np
from PIL import Image, ImageDraw


def face(rng, identity, cari):
    size = 120
    img = Image.new("RGB", (size, size), tuple(int(x) for x in rng.integers(150, 255, 3)))
    d = ImageDraw.Draw(img)
    r = np.random.default_rng(identity)  # identity look, stable across images
    skin = tuple(int(x) for x in r.integers(90, 240, 3))
    w = int(r.integers(30, 50) * (1.4 if cari else 1.0))
    h = int(r.integers(40, 55))
    jitter = rng.integers(-4, 5, 2)
    cx, cy = 60 + jitter[0], 60 + jitter[1]
    d.ellipse([cx - w // 2, cy - h, cx + w // 2, cy + h], fill=skin, outline=(0, 0, 0) if cari else None)
    eye = int(r.integers(3, 8) * (1.8 if cari else 1.0))
    for dx in (-12, 12):
        d.ellipse([cx + dx - eye, cy - 15 - eye, cx + dx + eye, cy - 15 + eye], fill=(20, 20, 20))
    d.line([cx - 10, cy + 20, cx + 10, cy + 20], fill=(120, 20, 20), width=3)
    return img


def pair_line(x, c, y, r, same):
    return f"{x} Caricature/{x}\\{c} {y} Real/{y}\\{r} {int(same)}"


def write_crlf(path, lines):
    with open(path, "w", newline="\r\n") as f:
        f.write("\n".join(lines) + "\n")


def write_pairs_only(base, names, files):
    """A pair list with Windows backslashes, one line naming a missing image, one malformed."""
    rnd = random.Random(3)
    lines = []
    for _ in range(200):
        x = rnd.choice(names)
        same = rnd.random() < 0.5
        y = x if same else rnd.choice([n for n in names if n != x])
        lines.append(pair_line(x, rnd.choice(files["c"][x]), y, rnd.choice(files["r"][y]), same))
    lines.append(pair_line(names[0], f"{names[0]}_c_77.jpg", names[0], files["r"][names[0]][0], True))
    lines.append("this line is not a pair")
    write_crlf(os.path.join(base, "pairs.txt"), lines)


def set_pairs(names, sets):
    """Every (caricature, photo) of each person within a set, then as many mismatched pairs."""
    rnd = random.Random(len(names))
    matched, mismatched = [], []
    for x in names:
        cs, rs = sets[x]
        matched += [pair_line(x, c, x, r, True) for c in cs for r in rs]
    for _ in range(len(matched)):
        x, y = rnd.sample(names, 2)
        mismatched.append(pair_line(x, rnd.choice(sets[x][0]), y, rnd.choice(sets[y][1]), False))
    return matched + mismatched


def write_lists(root, names, files):
    """train-test-files/ as the CaVINet release has it (see the module documentation)."""
    tested = names[: max(2, len(names) - max(1, len(names) // 20))]
    train, val, test = {}, {}, {}
    for x in names:
        cs, rs = files["c"][x], files["r"][x]
        n_test = [max(1, len(l) // 4) if x in tested else 0 for l in (cs, rs)]
        train[x] = (cs[: len(cs) - n_test[0] - 1], rs[: len(rs) - n_test[1] - 1])
        val[x] = (cs[len(cs) - n_test[0] - 1: len(cs) - n_test[0]], rs[len(rs) - n_test[1] - 1: len(rs) - n_test[1]])
        test[x] = (cs[len(cs) - n_test[0]:], rs[len(rs) - n_test[1]:])
    lists = os.path.join(root, "train-test-files")
    os.makedirs(lists, exist_ok=True)
    training = set_pairs(names, train)
    half = len(training) // 2
    write_crlf(os.path.join(lists, "training_11.txt"), training[:half])
    write_crlf(os.path.join(lists, "training_12.txt"), training[half:])
    write_crlf(os.path.join(lists, "validation.txt"), set_pairs(names, val))
    write_crlf(os.path.join(lists, "testing_1.txt"), set_pairs(tested, test))
    write_crlf(os.path.join(lists, "complete_identity_list.txt"), names + ["Person_solo"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--people", type=int, default=30)
    p.add_argument("--per", type=int, default=8)
    p.add_argument("--pairs-only", action="store_true",
                   help="a loose pairs.txt instead of the release's train-test-files/")
    a = p.parse_args()
    rng = np.random.default_rng(7)
    base = os.path.join(a.root, "CaVI_Dataset")
    names = [f"Person_{i:02d}" for i in range(a.people)]
    files = {"c": {}, "r": {}}
    for i, name in enumerate(names):
        for kind, folder in (("c", "Caricature"), ("r", "Real")):
            d = os.path.join(base, folder, name)
            os.makedirs(d, exist_ok=True)
            files[kind][name] = []
            for k in range(1, a.per + 1):
                fn = f"{name}_{kind}_{k}.jpg"
                face(rng, i, kind == "c").save(os.path.join(d, fn), quality=90)
                files[kind][name].append(fn)
            with open(os.path.join(d, "Thumbs.db"), "wb") as f:
                f.write(b"\x00" * 64)
        # A duplicate with the "(1)" suffix Windows gives copies.
        face(rng, i, True).save(os.path.join(base, "Caricature", name, f"{name}_c_{a.per}(1).jpg"))
    # Bad files: zero bytes, text saved as .jpg, a truncated JPEG.
    open(os.path.join(base, "Real", names[0], f"{names[0]}_r_99.jpg"), "wb").close()
    with open(os.path.join(base, "Real", names[1], f"{names[1]}_r_98.jpg"), "w") as f:
        f.write("this is not an image\n")
    good = os.path.join(base, "Real", names[2], files["r"][names[2]][0])
    with open(good, "rb") as f:
        data = f.read()
    with open(os.path.join(base, "Real", names[2], f"{names[2]}_r_97.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])
    # An identity with caricatures only.
    solo = "Person_solo"
    os.makedirs(os.path.join(base, "Caricature", solo), exist_ok=True)
    face(rng, 999, True).save(os.path.join(base, "Caricature", solo, f"{solo}_c_1.jpg"))
    if a.pairs_only:
        write_pairs_only(base, names, files)
    else:
        write_lists(a.root, names, files)
    print(f"wrote {a.root}: {a.people} people × {a.per} caricatures and photos, plus quirks and bad files")


if __name__ == "__main__":
    main()
