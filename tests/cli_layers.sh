#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_layers.sh — tools/check_layers.sh passes on a clean copy of a few real files and fails on each planted
# violation (module order, *_internal.h across folders, cli including a src header, missing "module:"
# paragraph, unknown public header), and the allowlist silences exactly the listed include.
# Usage: bash tests/cli_layers.sh [genmix binary, unused]; run from the source root.
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d /tmp/gm_layers_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
mk() { # a minimal tree: core, io, nn, eval, mix with real headers and one stub file each
    rm -rf "$tmp/t"
    mkdir -p "$tmp/t/include/genmix" "$tmp/t/cli" "$tmp/t/src"/{core,io,nn,eval,mix}
    cp include/genmix/{base,tensor,rng,io,nn,eval,mix}.h "$tmp/t/include/genmix/"
    cp cli/cli.h "$tmp/t/cli/"
    cp src/eval/eval_internal.h "$tmp/t/src/eval/"
    cp src/mix/mix_internal.h "$tmp/t/src/mix/"
    for m in core io nn eval mix; do
        printf '/* %s_a.c — stub.\n *\n * module: %s owns things. */\n#include "genmix/base.h"\n' "$m" "$m" >"$tmp/t/src/$m/${m}_a.c"
    done
    printf '#include "genmix/eval.h"\n#include "eval_internal.h"\n' >>"$tmp/t/src/eval/eval_a.c"
    printf '#include "genmix/eval.h"\n#include "mix_internal.h"\n' >>"$tmp/t/src/mix/mix_a.c"
    printf '#include "cli.h"\n#include "genmix/mix.h"\n' >"$tmp/t/cli/cmd_x.c"
}
expect() { # expect <0|1> <what> [allowlist]
    local want=$1 what=$2
    bash tools/check_layers.sh "$tmp/t" "${3:-$tmp/none}" >"$tmp/out" 2>&1
    local rc=$?
    if [ "$want" = 0 ] && [ $rc -ne 0 ]; then echo "FAIL: $what: wanted a pass"; cat "$tmp/out"; fail=1; fi
    if [ "$want" = 1 ] && [ $rc -ne 1 ]; then echo "FAIL: $what: wanted a failure (rc $rc)"; cat "$tmp/out"; fail=1; fi
    if [ "$want" = 1 ] && ! grep -q "^layering: " "$tmp/out"; then echo "FAIL: $what: no violation line"; fail=1; fi
}

mk; expect 0 "clean tree"
mk; echo '#include "genmix/eval.h"' >>"$tmp/t/src/core/core_a.c"; expect 1 "core includes eval"
mk; echo '#include "genmix/mix.h"' >>"$tmp/t/src/nn/nn_a.c"; expect 1 "nn includes a method"
mk; echo '#include "genmix/mix.h"' >>"$tmp/t/src/eval/eval_a.c"; expect 1 "eval includes mix"
mk; echo '#include "eval_internal.h"' >>"$tmp/t/src/mix/mix_a.c"; expect 1 "*_internal.h across folders"
mk; echo '#include "mix_internal.h"' >>"$tmp/t/cli/cmd_x.c"; expect 1 "cli includes a src header"
mk; printf '/* no paragraph */\n' >"$tmp/t/src/io/a0.c"; expect 1 "first file without module:"
mk; echo '#include "genmix/zzz.h"' >>"$tmp/t/src/mix/mix_a.c"; expect 1 "unknown public header"
mk; echo '#include "genmix/io.h"' >>"$tmp/t/include/genmix/base.h"; expect 1 "public header include upwards"
# the allowlist silences exactly the listed include, not another one in the same file
mk; echo '#include "eval_internal.h"' >>"$tmp/t/src/mix/mix_a.c"
echo 'src/mix/mix_a.c eval_internal.h # planted' >"$tmp/allow"; expect 0 "allowlisted" "$tmp/allow"
echo '#include "genmix/mix.h"' >>"$tmp/t/src/core/core_a.c"; expect 1 "another violation beside an allowlisted one" "$tmp/allow"
# and the real tree passes with the repository's allowlist
bash tools/check_layers.sh >"$tmp/out" 2>&1 || { echo "FAIL: the repository tree"; cat "$tmp/out"; fail=1; }
[ $fail -eq 0 ] && echo "ok: layering check passes clean trees and fails planted violations"
exit $fail
