#!/bin/sh
# Headers say true things: every function a lib/*.h comment names as
# "ft_name()" is defined in lib/*.c, and every "docs/hf-reference.md §N" a
# source cites is a section of the committed docs/hf-reference.md.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
cd "$TOP" || exit 1
doc=docs/hf-reference.md
[ -s "$doc" ] || t_fail "$doc is missing (the sources cite it)"
for f in lib/*.h; do
	for fn in $(grep -o 'ft_[a-z0-9_]*()' "$f" | sort -u); do
		n=${fn%()}
		grep -Eq "^$n\\(" lib/*.c || t_fail "$f names $fn, which lib/*.c does not define"
	done
done
# a citation names the file: "docs/hf-reference.md §N"
bare=$(grep -rnE '(^|[^/[:alnum:]_])hf-reference(\.md)?[[:space:]*#]*(§|section)' \
	lib cmd tests/unit tests/cli tests/ref tests/bench | grep -v '^tests/cli/headers.sh:')
[ -z "$bare" ] || t_fail "a citation without its path (write docs/hf-reference.md §N): $bare"
# the section numbers cited, "§N" and "§N-§M" alike
grep -rhoE 'hf-reference(\.md)?[[:space:]*#]*§[0-9]+(-§[0-9]+)?(, §[0-9]+)*' \
	lib cmd tests/unit tests/cli tests/ref | grep -oE '§[0-9]+' | sort -u >"$T/cited"
[ -s "$T/cited" ] || t_fail "no citations found (the pattern is wrong)"
while read -r s; do
	grep -q "^## ${s#§}\. " "$doc" || t_fail "$s is cited but $doc has no section ${s#§}"
done <"$T/cited"
echo "$(wc -l <"$T/cited") sections cited"
