#!/usr/bin/env bash
# tests/man/man_check.sh CTL_CONFIG_C MAN_DIR CONTROLLER -- the manual pages
# cannot drift: mandoc -Tlint finds nothing at warning level in any page;
# every setting name the config parser accepts (its keys[] tables in
# controller/ctl_config.c) is a tagged entry of marshal.conf(5) and every
# tagged entry there is a setting; every long option of marshal-controller's
# --help is in marshal-controller(8).
set -euo pipefail
src=$1 man=$2 ctl=$3
fail=0

for page in "$man"/*.[0-9]; do
    out=$(mandoc -Tlint -W warning "$page" 2>&1 || true)
    if [[ -n $out ]]; then
        echo "FAIL: mandoc -Tlint $page:"; echo "$out"; fail=1
    fi
done
(( $(ls "$man"/*.[0-9] | wc -l) >= 4 )) || { echo "FAIL: fewer than 4 pages in $man"; fail=1; }

# setting names of the parser: the strings of every "...keys[] = { ... };" table
parser=$(awk '/static const char \*const [a-z]*keys\[\] = \{/ {on=1}
              on {print}
              on && /\};/ {on=0}' "$src" | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
[[ $(wc -l <<<"$parser") -ge 40 ]] || { echo "FAIL: only $(wc -l <<<"$parser") names parsed from $src"; fail=1; }

# names tagged in marshal.conf(5): the bold words of the line after each .TP,
# from the first SETTINGS section up to FILES
documented=$(awk '/^\.SH FILES/ {on=0} /^\.SH TOP-LEVEL/ {on=1}
                  on && tp {print; tp=0; next}
                  on && /^\.TP/ {tp=1}' "$man/marshal.conf.5" |
             sed -E 's/^\.B[IR]? //' | grep -oE '(^|[ ])[a-z_]+' | tr -d ' ' | sort -u)

missing=$(comm -23 <(echo "$parser") <(echo "$documented"))
extra=$(comm -13 <(echo "$parser") <(echo "$documented"))
[[ -z $missing ]] || { echo "FAIL: settings the parser accepts but marshal.conf(5) lacks: $missing"; fail=1; }
[[ -z $extra ]] || { echo "FAIL: marshal.conf(5) documents settings the parser does not accept: $extra"; fail=1; }

for opt in $("$ctl" --help | grep -oE -- '--[a-z-]+' | sort -u); do
    sed 's/\\-/-/g' "$man/marshal-controller.8" | grep -qF -- "$opt" ||
        { echo "FAIL: marshal-controller(8) lacks $opt"; fail=1; }
done

(( fail == 0 )) && echo "man pages: lint clean, $(wc -l <<<"$parser") settings documented"
exit $fail
