#!/usr/bin/env python3
"""Build a synthetic tree with the WebCaricature layout, for load-time benchmarks and loader tests.

    python3 bench/make_webcaricature_tree.py OUT_DIR [--people 252] [--size 250] [--seed 0] [--jobs N]

Writes under OUT_DIR (which must not exist, or be empty):
  OriginalImages/<Person Name>/C00001.jpg … and P00001.jpg …   (6,042 caricatures + 5,974 photos
                                                                for 252 people, like the real set)
  FacialPoints/<Person Name>/<stem>.txt                          (17 lines "x y"; ~2 % missing, one malformed)
  EvaluationProtocols/FaceVerification/Restricted/RestrictedView1_DevTrain.txt, …_DevTest.txt,
      RestrictedView2.txt (first line N, then 10 blocks of N matched + N mismatched pairs, CRLF;
      people of different folds are disjoint; one line names a missing image)
  EvaluationProtocols/FaceIdentification/{C2P,P2C}/FR_{Train,Gallery,Probe}_{C2P,P2C}{1..10}.txt
      and *_dev files (tab-separated "identity<TAB>image"; C2P with .jpg, P2C without extension)
and a few deliberately bad files: a zero-byte JPEG, a truncated JPEG, a text file named .jpg, a PNG
header claiming 100000x100000 pixels, a Thumbs.db, a stray non-image file.

The pictures are 250x250 JPEG "faces": a per-person background, skin tone and ellipse, plus noise
(caricatures get exaggerated ellipses and posterised colours). They only need to decode like real
files; they carry no identity signal worth learning beyond colour.

Needs numpy and Pillow.
"""

import argparse
import os
import struct
import sys
import zlib
from multiprocessing import Pool

import numpy as np
from PIL import Image

N_CARICATURES = 6042
N_PHOTOS = 5974
FOLDS = 10

FIRST = ["Aaron", "Adam", "Alan", "Alicia", "Amy", "Angela", "Ben", "Bill", "Cate", "Chris",
         "Dana", "David", "Diane", "Ed", "Emma", "Frank", "Grace", "Hugh", "Ian", "Jack", "Jane",
         "Kate", "Leo", "Lucy", "Mark", "Mary", "Nick", "Olga", "Paul", "Rosa", "Sam", "Tom"]
LAST = ["Eckhart", "Sandler", "Rickman", "Keys", "Adams", "Merkel", "Stiller", "Gates",
        "Blanchett", "Rock", "Carvey", "Keaton", "Kruger", "Harris", "Watson", "Sinatra", "Kelly",
        "Grant", "McKellen", "Nicholson", "Fonda", "Winslet", "Tolstoy", "Liu", "Twain", "Shelley",
        "Cage", "Kurylenko", "Newman", "Parks", "Neill", "Hanks"]


def person_names(n, rng):
    names = set()
    while len(names) < n:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        if name in names:
            name = f"{first} {rng.choice(FIRST)} {last}"
        names.add(name)
    return sorted(names)


def face(size, person_seed, image_seed, caricature):
    """A noisy face-like picture and its 17 landmarks."""
    prng = np.random.default_rng(person_seed)
    irng = np.random.default_rng(image_seed)
    bg = prng.integers(30, 220, 3)
    skin = prng.integers(90, 250, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx = size / 2 + irng.normal(0, size * 0.04)
    cy = size / 2 + irng.normal(0, size * 0.04)
    rx = size * (0.22 + 0.05 * prng.random()) * (1.25 if caricature else 1.0)
    ry = size * (0.30 + 0.05 * prng.random()) * (0.9 if caricature else 1.0)
    inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    img = np.empty((size, size, 3), np.float32)
    img[:] = bg
    img[inside] = skin
    # Eyes and mouth.
    for ex in (-0.4, 0.4):
        eye = ((xx - (cx + ex * rx)) ** 2 + (yy - (cy - 0.25 * ry)) ** 2) <= (0.12 * rx) ** 2
        img[eye] = (20, 20, 20)
    mouth = (np.abs(yy - (cy + 0.45 * ry)) < 0.05 * ry) & (np.abs(xx - cx) < 0.4 * rx)
    img[mouth] = (150, 30, 40)
    img += irng.normal(0, 12, img.shape)
    if caricature:
        img = np.round(img / 48) * 48
    img = np.clip(img, 0, 255).astype(np.uint8)
    # 17 landmarks: 4 contour, 4 brow corners, 4 eye corners, nose tip, 4 mouth.
    pts = [(cx - rx, cy), (cx + rx, cy), (cx - 0.7 * rx, cy + 0.7 * ry), (cx + 0.7 * rx, cy + 0.7 * ry)]
    for ex in (-0.4, 0.4):
        pts += [(cx + (ex - 0.15) * rx, cy - 0.45 * ry), (cx + (ex + 0.15) * rx, cy - 0.45 * ry)]
    for ex in (-0.4, 0.4):
        pts += [(cx + (ex - 0.12) * rx, cy - 0.25 * ry), (cx + (ex + 0.12) * rx, cy - 0.25 * ry)]
    pts.append((cx, cy + 0.1 * ry))
    pts += [(cx - 0.4 * rx, cy + 0.45 * ry), (cx + 0.4 * rx, cy + 0.45 * ry),
            (cx, cy + 0.38 * ry), (cx, cy + 0.52 * ry)]
    pts = [(x + irng.normal(0, 1.0), y + irng.normal(0, 1.0)) for x, y in pts]
    return img, pts


def write_one(job):
    path, lm_path, size, person_seed, image_seed, caricature = job
    img, pts = face(size, person_seed, image_seed, caricature)
    Image.fromarray(img).save(path, "JPEG", quality=88)
    if lm_path is not None:
        with open(lm_path, "w", newline="") as f:
            f.write("".join(f"{x:.2f} {y:.2f}\r\n" for x, y in pts))


def huge_png(w, h):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write("".join(line + "\r\n" for line in lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--people", type=int, default=252)
    ap.add_argument("--size", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"{out} exists and is not empty; give a new folder")
    rng = np.random.default_rng(args.seed)
    names = person_names(args.people, rng)
    n_c = [N_CARICATURES // args.people + (i < N_CARICATURES % args.people) for i in range(args.people)]
    n_p = [N_PHOTOS // args.people + (i < N_PHOTOS % args.people) for i in range(args.people)]
    perm = rng.permutation(args.people)  # spread the remainders over people
    n_c = [n_c[i] for i in perm]
    n_p = [n_p[::-1][i] for i in perm]

    jobs = []
    images = {}  # name -> (caricature stems, photo stems)
    malformed = None
    for pi, name in enumerate(names):
        od = os.path.join(out, "OriginalImages", name)
        fd = os.path.join(out, "FacialPoints", name)
        os.makedirs(od)
        os.makedirs(fd)
        cs = [f"C{k:05d}" for k in range(1, n_c[pi] + 1)]
        ps = [f"P{k:05d}" for k in range(1, n_p[pi] + 1)]
        images[name] = (cs, ps)
        for stem in cs + ps:
            lm = None if rng.random() < 0.02 else os.path.join(fd, stem + ".txt")
            seed = int(rng.integers(1 << 62))
            jobs.append((os.path.join(od, stem + ".jpg"), lm, args.size, 1000 + pi, seed, stem[0] == "C"))
            if malformed is None and lm is not None and pi == 1:
                malformed = lm
    with Pool(args.jobs) as pool:
        for i, _ in enumerate(pool.imap_unordered(write_one, jobs, chunksize=64)):
            if (i + 1) % 2000 == 0:
                print(f"{i + 1}/{len(jobs)} images", file=sys.stderr)
    with open(malformed, "w") as f:
        f.write("12.0 40.0\n13.5 oops\n")

    # Deliberately bad files (not counted in the totals above).
    bad_dir = os.path.join(out, "OriginalImages", names[0])
    open(os.path.join(bad_dir, "C09990.jpg"), "wb").close()  # zero bytes
    with open(os.path.join(bad_dir, "C00001.jpg"), "rb") as f:
        good = f.read()
    with open(os.path.join(bad_dir, "C09991.jpg"), "wb") as f:
        f.write(good[: len(good) // 3])  # truncated
    with open(os.path.join(bad_dir, "P09992.jpg"), "w") as f:
        f.write("This is a text file with a .jpg name.\n")
    with open(os.path.join(bad_dir, "P09993.png"), "wb") as f:
        f.write(huge_png(100000, 100000))
    with open(os.path.join(bad_dir, "Thumbs.db"), "wb") as f:
        f.write(b"\xd0\xcf\x11\xe0junk")
    with open(os.path.join(bad_dir, "notes.doc"), "w") as f:
        f.write("stray file\n")

    # Verification: people split into 10 disjoint folds; N matched + N mismatched pairs per fold.
    order = list(rng.permutation(len(names)))
    fold_people = [[names[i] for i in order[f::FOLDS]] for f in range(FOLDS)]
    per_fold = 100
    lines = [str(per_fold)]
    for f in range(FOLDS):
        ppl = fold_people[f]
        for _ in range(per_fold):
            n = ppl[rng.integers(len(ppl))]
            cs, ps = images[n]
            lines.append(f"{n}\t{cs[rng.integers(len(cs))]}\t{ps[rng.integers(len(ps))]}")
        for _ in range(per_fold):
            a, b = rng.choice(len(ppl), 2, replace=False)
            na, nb = ppl[a], ppl[b]
            lines.append(f"{na}\t{images[na][0][rng.integers(len(images[na][0]))]}\t"
                         f"{nb}\t{images[nb][1][rng.integers(len(images[nb][1]))]}")
    lines[5] = f"{names[2]}\tC09999\t{images[names[2]][1][0]}"  # names a missing image
    vdir = os.path.join(out, "EvaluationProtocols", "FaceVerification", "Restricted")
    write_lines(os.path.join(vdir, "RestrictedView2.txt"), lines)
    for part in ("DevTrain", "DevTest"):
        write_lines(os.path.join(vdir, f"RestrictedView1_{part}.txt"), lines[:1] + lines[1:201])

    # Identification: per fold, half the people train, the other half are gallery/probes.
    idir = os.path.join(out, "EvaluationProtocols", "FaceIdentification")
    for k in range(1, FOLDS + 1):
        perm = rng.permutation(len(names))
        train, test = [names[i] for i in perm[: len(names) // 2]], [names[i] for i in perm[len(names) // 2:]]
        for direction, ext in (("C2P", ".jpg"), ("P2C", "")):
            g_mod, p_mod = (1, 0) if direction == "C2P" else (0, 1)
            d = os.path.join(idir, direction)
            write_lines(os.path.join(d, f"FR_Train_{direction}{k}.txt"),
                        [f"{n}\t{s}{ext}" for n in train for s in images[n][0] + images[n][1]])
            write_lines(os.path.join(d, f"FR_Gallery_{direction}{k}.txt"),
                        [f"{n}\t{images[n][g_mod][0]}{ext}" for n in test])
            write_lines(os.path.join(d, f"FR_Probe_{direction}{k}.txt"),
                        [f"{n}\t{s}{ext}" for n in test for s in images[n][p_mod]])
            if k == 1:
                write_lines(os.path.join(d, f"FR_Gallery_{direction}_dev.txt"), ["ignored\tX"])
                write_lines(os.path.join(d, f"FR_Probe_{direction}_dev.txt"), ["ignored\tX"])

    print(f"wrote {len(jobs)} images ({sum(n_c)} caricatures, {sum(n_p)} photos) of "
          f"{len(names)} people under {out}, plus 6 bad files")


if __name__ == "__main__":
    main()
