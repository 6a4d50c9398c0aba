// Reference outputs of the Unicode normalizers of the Hugging Face
// `tokenizers` library (npm package `tokenizers`, the Node binding of the
// Rust library: nfcNormalizer() ... normalizeString) for lib/normalize's
// test (tests/unit/test_normalize.c).
//
// usage: node tests/ref/normalize_ref.mjs OUTDIR
// writes, one case a line, "IN<TAB>NFC<TAB>NFD<TAB>NFKC<TAB>NFKD", each a
// space-separated list of hex code points:
//   cps.txt   every code point (surrogates apart) that some form changes;
//             the test requires every other one to be left alone by all
//   ccc.txt   "a" X U+0334 and "a" U+0301 X for every X, where NFD changes
//             it (canonical reordering exposes X's combining class: U+0334
//             has class 1, U+0301 class 230); the others must stay as is
//   seqs.txt  seeded random sequences of combining marks, Hangul jamo and
//             syllables, composites, compatibility characters and ASCII,
//             then lines of 30 of them run together (the quick check's
//             piecewise work)
// Environment: FT_NPM=DIR holding node_modules/tokenizers (default
// /work/bpe-npm; tokenizers@0.23.2).  Run by tests/ref/normalize_fixtures.sh.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { rng } from './mulberry32.mjs';

const npm = process.env.FT_NPM || '/work/bpe-npm';
const require = createRequire(path.join(npm, 'node_modules', 'x.js'));
const T = require('tokenizers');
const forms = [T.nfcNormalizer(), T.nfdNormalizer(), T.nfkcNormalizer(), T.nfkdNormalizer()];
const hex = (s) => [...s].map((x) => x.codePointAt(0).toString(16)).join(' ');
const row = (s, outs) => [s, ...outs].map(hex).join('\t');

const out = process.argv[2];
const cps = [], ccc = [], marks = [], changed = [];
for (let c = 0; c < 0x110000; c++) {
	if (c >= 0xD800 && c <= 0xDFFF)
		continue;
	const s = String.fromCodePoint(c);
	const o = forms.map((f) => f.normalizeString(s));
	if (o.some((x) => x !== s)) {
		cps.push(row(s, o));
		changed.push(c);
	}
	const nfd = forms[1];
	for (const p of ['a' + s + '\u0334', 'a\u0301' + s]) {
		const d = nfd.normalizeString(p);
		if (d !== p)
			ccc.push(row(p, forms.map((f) => f.normalizeString(p))));
	}
	if (nfd.normalizeString('a' + s + '\u0334') !== 'a' + s + '\u0334' && c > 0x7f && !o.some((x) => x !== s))
		marks.push(c);
}
fs.writeFileSync(path.join(out, 'cps.txt'), cps.join('\n') + '\n');
fs.writeFileSync(path.join(out, 'ccc.txt'), ccc.join('\n') + '\n');

// pools for the random sequences
const r = rng(2024);
const pick = (a) => a[Math.floor(r() * a.length)];
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const pools = [
	marks,                                  // non-starters (ccc > 0)
	range(0x1100, 0x1112), range(0x1161, 0x1175), range(0x11A7, 0x11C2), // L V T (and T_BASE)
	range(0xAC00, 0xD7A3),                  // syllables (LV and LVT)
	changed,                                // anything some form changes
	[0x0B3E, 0x0B57, 0x0CD5, 0x0CD6, 0x0DCF, 0x0DDF, 0x102E, 0x1133E, 0x11357, 0x114BD, 0x115AF, 0x0CC2, 0x0DCA, 0x3099, 0x309A],
	range(0x61, 0x7A), [0x41, 0x45, 0x4F, 0x55, 0x20],
	[0x0345, 0x0344, 0x0F73, 0x0F75, 0x0F81, 0x1E9B, 0x0323, 0x0301, 0x0300, 0x0308, 0x05AE, 0x1D16E, 0xFB2C, 0x2ADC, 0x0958, 0x212B],
];
const seq = () => {
	const n = 1 + Math.floor(r() * 10);
	let s = '';
	for (let i = 0; i < n; i++)
		s += String.fromCodePoint(pick(pick(pools)));
	return s;
};
const seqs = [];
for (let i = 0; i < 6000; i++) {
	const s = seq();
	seqs.push(row(s, forms.map((f) => f.normalizeString(s))));
}
for (let i = 0; i < 120; i++) {
	let s = '';
	for (let k = 0; k < 30; k++)
		s += r() < 0.3 ? ' ' + seq() : seq();
	seqs.push(row(s, forms.map((f) => f.normalizeString(s))));
}
fs.writeFileSync(path.join(out, 'seqs.txt'), seqs.join('\n') + '\n');
