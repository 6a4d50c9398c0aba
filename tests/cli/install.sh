#!/bin/sh
# `make install PREFIX=...` (the README's instructions): the tools into
# PREFIX/bin, the man pages into PREFIX/share/man/manN (so `man 7 ft`
# finds the overview); `make uninstall` removes them again.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
mk() { env -u MAKEFLAGS -u MAKELEVEL make -s -C "$TOP" SAN="${FT_SAN:-}" "$@"; }
mk install DESTDIR="$T/d" PREFIX=/opt/ft >"$T/log" 2>&1 || { cat "$T/log"; t_fail "make install"; }
P=$T/d/opt/ft
for t in ft-fetch ft-split ft-clean ft-tokenize ft-train ft-sample; do
	[ -x "$P/bin/$t" ] || t_fail "no $P/bin/$t"
	[ -f "$P/share/man/man1/$t.1" ] || t_fail "no man page $t.1"
done
[ -f "$P/share/man/man7/ft.7" ] || t_fail "no man7/ft.7"
[ -f "$P/share/man/man5/ft-formats.5" ] || t_fail "no man5/ft-formats.5"
"$P/bin/ft-split" --version | grep -q ft-split || t_fail "installed ft-split does not run"
if command -v man >/dev/null 2>&1; then
	MANPATH=$P/share/man man 7 ft 2>/dev/null | grep -q "ft-train" || t_fail "man 7 ft"
else
	mandoc -Tascii "$P/share/man/man7/ft.7" | grep -q "ft-train" || t_fail "mandoc ft.7"
	t_skip_part "man 7 ft itself: no man(1) here (the page renders with mandoc)"
fi
mk uninstall DESTDIR="$T/d" PREFIX=/opt/ft >"$T/log" 2>&1 || { cat "$T/log"; t_fail "make uninstall"; }
[ -z "$(find "$P" -type f)" ] || t_fail "left after uninstall: $(find "$P" -type f)"
