#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_same_file.sh — an output option naming the same file as an input (the same path, "./x", a symlink or a
# hard link to it) is refused before any work: one line naming both options, exit 2 (usage), the input
# left byte for byte as it was. Covers eval, eval merge-stats, features, moe predict, plot, pr-curve,
# flow logprob, sample (a junk file and a real toy GAN checkpoint), train gan/classifier; continuing a
# checkpoint in place (train gan --resume X --out X) still works, and so does a different output path.
# Two outputs of one command naming one file (eval --json X --save-stats X, train gan --samples X --plot X,
# ...) are refused the same way: one line naming both options, exit 2, nothing written.
# A command writing into a folder (mix/align/data --out, latent-study --out-dir) refuses an input that is one
# of the files it writes there (or a symlink there to an input), naming the folder option and the input.
# usage: bash tests/cli_same_file.sh path/to/genmix   (run from the repository root)
set -u
G=${1:?usage: cli_same_file.sh path/to/genmix}
T=$(mktemp -d /tmp/gm_cli_same_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

/usr/bin/python3 - "$T" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(0)
np.save(f"{t}/r.npy", r.standard_normal((40, 3)))
np.save(f"{t}/f.npy", r.standard_normal((40, 3)) + 0.5)
np.save(f"{t}/pts.npy", r.standard_normal((5, 2)).astype(np.float32))
np.savez(f"{t}/s1.npz", mu=np.zeros(3), m2=np.eye(3), n=np.int64(10))
with open(f"{t}/t.csv", "w") as f:
    f.write("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(5)))
EOF
printf 'not a checkpoint\n' >"$T/m.st"
ln -s f.npy "$T/link.npy"
ln "$T/r.npy" "$T/hard.npy"
for f in r.npy f.npy pts.npy s1.npz t.csv m.st; do cp "$T/$f" "$T/$f.orig"; done

# refused OUT_OPT IN_OPT CMD... : exit 2, one line "genmix ...: OUT_OPT '...' is the same file as the input IN_OPT",
# every input unchanged
refused() {
  local oo=$1 io=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  [ "$got" = 2 ] && ok || bad "'$*' exited $got, wanted 2: $(head -c 300 "$T/err")"
  if [ "$(wc -l <"$T/err")" != 1 ] || ! grep -qF -- "$oo '" "$T/err" ||
     ! grep -qF -- "is the same file as the input $io '" "$T/err"; then
    bad "'$*': wanted one line naming $oo and $io, got: $(cat "$T/err")"
  else ok; fi
  for f in r.npy f.npy pts.npy s1.npz t.csv m.st; do
    cmp -s "$T/$f" "$T/$f.orig" || { bad "'$*' changed $f"; cp "$T/$f.orig" "$T/$f"; }
  done
}

refused --json --fake "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --json "$T/f.npy"
refused --json --fake "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --json "$T/./f.npy"      # through ./
refused --json --fake "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --json "$T/link.npy"     # through a symlink
refused --json --fake "$G" eval --real "$T/r.npy" --fake "$T/link.npy" --json "$T/f.npy"
refused --save-stats --real "$G" eval --real "$T/r.npy" --save-stats "$T/hard.npy"          # a hard link
refused --prd-out --fake "$G" eval --real "$T/r.npy" --fake "$T/r.npy" --fake "$T/f.npy" --metrics prd --prd-out "$T/f.npy"
refused --out IN.npz "$G" eval merge-stats --out "$T/s1.npz" "$T/s1.npz"
refused --out --in "$G" features --model "$T/m.st" --in "$T/r.npy" --out "$T/r.npy"
refused --out --model "$G" features --model "$T/m.st" --in "$T/r.npy" --out "$T/m.st"
refused --out --csv "$G" moe predict --model "$T/m.st" --csv "$T/t.csv" --out "$T/t.csv"
refused --out --csv "$G" plot --csv "$T/t.csv" --x x --y y --out "$T/t.csv"
refused --plot --fake "$G" pr-curve --real "$T/r.npy" --fake "$T/f.npy" --plot "$T/f.npy"
refused --out --x "$G" flow logprob --model "$T/m.st" --x "$T/pts.npy" --out "$T/pts.npy"
refused --samples --resume "$G" train gan --resume "$T/m.st" --out "$T/new.st" --samples "$T/m.st"
refused --json "--out (with --resume)" "$G" train classifier --resume --out "$T/m.st" --json "$T/m.st"
refused --out --model "$G" sample --model "$T/m.st" --n 2 --out "$T/m.st"

# a real (toy GAN) checkpoint: sampling onto it is refused; continuing it in place (--resume X --out X) is
# the one allowed case and works
"$G" --quiet train gan --hidden 8 --batch 16 --n-critic 1 --iters 1 --log-every 0 --seed 1 --out "$T/g.st" >/dev/null 2>"$T/err" ||
  bad "train gan: $(cat "$T/err")"
cp "$T/g.st" "$T/g.st.orig"
refused --out --model "$G" sample --model "$T/g.st" --n 5 --out "$T/g.st"
refused --plot --model "$G" sample --model "$T/g.st" --n 5 --out "$T/s.npy" --plot "$T/g.st"
cmp -s "$T/g.st" "$T/g.st.orig" && ok || bad "the GAN checkpoint changed"
"$G" --quiet train gan --resume "$T/g.st" --iters 2 --out "$T/g.st" >/dev/null 2>"$T/err" && ok ||
  bad "train gan --resume X --out X (in place) failed: $(cat "$T/err")"
cmp -s "$T/g.st" "$T/g.st.orig" && bad "the in-place resume did not write the checkpoint" || ok

# a different output path is fine, and "-" (stdout) is never "the same file"
"$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json "$T/e.json" >/dev/null 2>"$T/err" && [ -s "$T/e.json" ] && ok ||
  bad "eval to a new --json failed: $(cat "$T/err")"
"$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json - >"$T/out" 2>"$T/err" && grep -q '"fd"' "$T/out" && ok ||
  bad "eval --json - failed: $(cat "$T/err")"

# two outputs of one command naming one file (a new path, an existing file, "./x"): refused before any work,
# one line naming both options, exit 2, nothing written; /dev/null twice and "-" stay allowed
twice() {
  local o1=$1 o2=$2; shift 2
  rm -f "$T/x.out"
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  [ "$got" = 2 ] && ok || bad "'$*' exited $got, wanted 2: $(head -c 300 "$T/err")"
  if [ "$(wc -l <"$T/err")" != 1 ] || ! grep -qF -- "$o1 '" "$T/err" || ! grep -qF -- "and $o2 '" "$T/err" ||
     ! grep -qF "name the same file" "$T/err"; then
    bad "'$*': wanted one line naming $o1 and $o2, got: $(cat "$T/err")"
  else ok; fi
  [ -e "$T/x.out" ] && bad "'$*' wrote x.out" || ok
}
twice --json --save-stats "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json "$T/x.out" --save-stats "$T/x.out"
twice --json --save-stats "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json "$T/x.out" --save-stats "$T/./x.out"
twice --json --prd-out "$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics prd --json "$T/x.out" --prd-out "$T/x.out"
twice --out --samples "$G" train gan --hidden 8 --iters 1 --out "$T/x.out" --samples "$T/x.out"
twice --samples --plot "$G" train gan --hidden 8 --iters 1 --out "$T/n.st" --samples "$T/x.out" --plot "$T/x.out"
twice --out --json "$G" train classifier --limit 64 --epochs 1 --out "$T/x.out" --json "$T/x.out"
twice --out --plot "$G" sample --model "$T/g.st" --n 5 --out "$T/x.out" --plot "$T/x.out"
cp "$T/e.json" "$T/e2.json"
"$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json "$T/e2.json" --save-stats "$T/e2.json" >/dev/null 2>"$T/err"
[ $? = 2 ] && cmp -s "$T/e.json" "$T/e2.json" && ok || bad "eval --json X --save-stats X over an existing X: $(cat "$T/err")"
"$G" eval --real "$T/r.npy" --fake "$T/f.npy" --metrics fd --json /dev/null --save-stats /dev/null >/dev/null 2>"$T/err" && ok ||
  bad "eval --json /dev/null --save-stats /dev/null was refused: $(cat "$T/err")"
[ -e "$T/n.st" ] && bad "train gan wrote n.st although refused" || ok

# a command writing into a folder: an input that is one of the files it writes there (or a symlink genmix would
# write through to an input) is refused before any work, naming the folder option and the input
mkdir -p "$T/d" "$T/src" "$T/o"
for f in trajectory_cab.csv samples.npy test.npy keep.npy; do cp "$T/r.npy" "$T/d/$f"; done
printf 'idx\n' >"$T/src/train-labels-idx1-ubyte"
ln -s ../src/train-labels-idx1-ubyte "$T/o/train_labels.npy"
in_dir() {
  local oo=$1 io=$2 keep=$3; shift 3
  cp "$keep" "$T/keep.orig"
  refused "$oo" "$io" "$@"
  cmp -s "$keep" "$T/keep.orig" && ok || bad "'$*' changed $keep"
}
in_dir --out --arm "$T/d/trajectory_cab.csv" "$G" mix --arm "$T/f.npy" --arm "$T/d/trajectory_cab.csv" --ref "$T/r.npy" \
  --score kid --sigma median --algo cab --rounds 5 --out "$T/d"
in_dir --out --base-samples "$T/d/samples.npy" "$G" align --model toy:gmm2 --reward gmm2 --alpha 1 --method base \
  --base-samples "$T/f.npy,$T/d/samples.npy" --out "$T/d"
cp "$T/r.npy" "$T/d/summary.json"
in_dir --out --reward "$T/d/summary.json" "$G" align --model toy:gmm2 --reward "classifier:$T/d/summary.json:1,2" --alpha 1 \
  --method base --out "$T/d"
in_dir --out --source "$T/src/train-labels-idx1-ubyte" "$G" data fashion-mnist --source "$T/src" --out "$T/o"
in_dir --out-dir --model "$T/d/test.npy" "$G" latent-study --model "$T/d/test.npy" --out-dir "$T/d/" --n 10
grep -qF "'$T/d/test.npy'" "$T/err" && ok || bad "latent-study: wanted the path '$T/d/test.npy' (one slash): $(cat "$T/err")"
# an input in that folder under a name genmix does not write is fine (the check is past the usage check)
"$G" latent-study --model "$T/d/keep.npy" --out-dir "$T/d" --n 10 >/dev/null 2>"$T/err"
[ $? = 1 ] && ok || bad "latent-study with an input under another name: $(cat "$T/err")"

echo "cli_same_file: $pass passed, $fails failed"
[ "$fails" = 0 ]
