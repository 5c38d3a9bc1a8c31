#!/bin/sh
# ODR check for bench_w1_micrograd_step, which links the engine three times: the library
# (namespace scalargrad, handles counted), w1_micrograd_step.uncounted.cc (the engine's sources
# again, renamed to scalargrad_uncounted, handles not counted) and w1_micrograd_step.counted.cc
# (renamed to scalargrad_counted, handles counted).
#
# Usage: bench/check_odr.sh COPY_OBJECT OTHER_OBJECT_OR_ARCHIVE... [-- EXECUTABLE]
#   Run it once per copy, with everything else linked into the executable as OTHER, e.g. (CMake):
#   d=build/bench/CMakeFiles/bench_w1_micrograd_step.dir
#   bench/check_odr.sh $d/w1_micrograd_step.uncounted.cc.o $d/w1_micrograd_step.cpp.o \
#     $d/w1_micrograd_step.counted.cc.o build/autograd/libscalargrad_autograd.a -- build/bench/w1_micrograd_step
#   bench/check_odr.sh $d/w1_micrograd_step.counted.cc.o $d/w1_micrograd_step.cpp.o \
#     $d/w1_micrograd_step.uncounted.cc.o build/autograd/libscalargrad_autograd.a
#
# Fails (exit 1) if
#   1. the copy's object defines any global symbol of namespace scalargrad (not renamed), or a
#      global symbol outside scalargrad_<copy> / w1_<...> / w1 / sgbench / std and the compiler's
#      own (typeinfo, vtables, guards, DW.ref...), a function template's return type aside;
#   2. a global symbol is defined both in the copy's object and in the other objects, unless it is
#      a weak instantiation of the standard library on standard types only (the same code in both:
#      no ODR problem);
#   3. (with an executable) the executable lacks the functions of the three engines.
set -eu

if [ $# -lt 2 ]; then
  sed -n '2,24p' "$0"
  exit 2
fi
copy=$1  # the object of the engine copy under test
shift
others=""
exe=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then
    shift
    exe=${1:-}
    break
  fi
  others="$others $1"
  shift
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# Global (exported) definitions: upper-case nm types, plus u/V/W (unique/weak) ones.
nm --defined-only "$copy" | awk 'NF == 3 && ($2 ~ /^[A-Z]$/ || $2 == "u") {print $3}' | sort -u >"$tmp/u.mangled"
c++filt <"$tmp/u.mangled" >"$tmp/u.demangled"
echo "$(basename "$copy"): $(wc -l <"$tmp/u.mangled") global definitions; by namespace:"
sed -E 's/^(typeinfo name for|typeinfo for|vtable for|guard variable for|TLS init function for|TLS wrapper function for) //' \
  "$tmp/u.demangled" | grep -oE '^[A-Za-z_][A-Za-z_0-9]*(::[A-Za-z_][A-Za-z_0-9]*)?' | sort | uniq -c | sort -rn | sed 's/^/  /'

# 1. Nothing of namespace scalargrad proper, nothing unexpected.
if grep -E '(^|[^A-Za-z_0-9])scalargrad::' "$tmp/u.demangled" >"$tmp/bad1"; then
  echo "FAIL: the copy defines symbols of namespace scalargrad (the rename did not apply):"
  sed 's/^/  /' "$tmp/bad1"
  status=1
fi
sed -E 's/^(typeinfo name for|typeinfo for|vtable for|guard variable for|TLS init function for|TLS wrapper function for) //' \
  "$tmp/u.demangled" |
  sed -E 's/^(void|bool|double|int|unsigned int|unsigned long|long|char) (scalargrad_[a-z]+::|w1_[a-z_]+::)/\2/' |
  grep -vE '^(scalargrad_[a-z]+::|w1_[a-z_]+::|w1::|sgbench::|std::|__gnu_cxx::|operator (new|delete)|DW\.ref\.|(void|bool|double|int|unsigned|char|long) (std|__gnu_cxx)::|[a-z_:<>, ]*std::)' \
  >"$tmp/bad2" || true
if [ -s "$tmp/bad2" ]; then
  echo "FAIL: the copy defines unexpected global symbols:"
  sed 's/^/  /' "$tmp/bad2"
  status=1
fi

# 2. Definitions shared with the other objects (the counted TU, the engine library).
# shellcheck disable=SC2086
nm --defined-only $others 2>/dev/null | awk 'NF == 3 && ($2 ~ /^[A-Z]$/ || $2 == "u") {print $3}' | sort -u >"$tmp/o.mangled"
comm -12 "$tmp/u.mangled" "$tmp/o.mangled" >"$tmp/common.mangled"
echo "defined in both the copy and the others: $(wc -l <"$tmp/common.mangled")"
: >"$tmp/bad3"
while IFS= read -r sym; do
  [ -n "$sym" ] || continue
  d=$(echo "$sym" | c++filt)
  type=$(nm --defined-only "$copy" | awk -v s="$sym" '$3 == s {print $2; exit}')
  case "$type" in
    W | V | u) ;;
    *) echo "strong ($type): $d" >>"$tmp/bad3"; continue ;;
  esac
  if echo "$d" | grep -qE 'scalargrad|w1_|sgbench|W1_'; then
    echo "weak, engine or bench type: $d" >>"$tmp/bad3"
  else
    echo "  ok (weak, standard library on standard types): $d" | cut -c1-160
  fi
done <"$tmp/common.mangled"
if [ -s "$tmp/bad3" ]; then
  echo "FAIL: symbols defined in both:"
  sed 's/^/  /' "$tmp/bad3"
  status=1
fi

# 3. The executable really contains both engines.
if [ -n "$exe" ]; then
  # (A function template's demangled name starts with its return type: "void ...sweep<".)
  for f in 'void scalargrad_uncounted::detail::Tape::sweep<' ' scalargrad_uncounted::detail::Tape::reset_for_benchmark(' \
    'void scalargrad_counted::detail::Tape::sweep<' 'void scalargrad::detail::Tape::sweep<'; do
    if nm -C "$exe" | grep -qF "$f"; then
      echo "executable: has $f"
    else
      echo "FAIL: executable lacks $f"
      status=1
    fi
  done
fi

if [ $status -eq 0 ]; then echo "ODR check: OK"; else echo "ODR check: FAILED"; fi
exit $status
