// Reference ids and decodes of Hugging Face tokenizer.json files for
// ft-tokenize's tests, from the `tokenizers` library itself (npm package
// `tokenizers`, the native Node binding of the Rust library).
//
// usage: node tests/ref/tokjson_ref.mjs MODE ...
//   gen OUTDIR                 write the corpora multi.jsonl (multilingual,
//                              added tokens in text), bytes.jsonl (seeded
//                              random bytes made valid UTF-8), runs.jsonl
//                              (long runs of one character, 100k-char words),
//                              norm.jsonl (every code point a normalization
//                              form changes, Unicode 9.0 and later, in text;
//                              combining sequences, Hangul jamo)
//   ids DIR ADD INPUT OUTPUT   encode each document (JSONL, field "text")
//                              with DIR/tokenizer.json, addSpecialTokens =
//                              ADD (1/0), append the end-of-text id
//                              (tokenizer_config.json's eos_token); write the
//                              ids little-endian, uint16 when the vocabulary
//                              has <= 65536 ids, else uint32: exactly what
//                              `ft-tokenize -m DIR INPUT | zstd -dc` prints;
//                              a 5th argument EOSDIR: the end-of-text id
//                              (and id width) of EOSDIR's tokenizer
//   decode DIR SKIP INPUT OUTPUT  encode as `ids DIR 1`, then decode each
//                              document's ids with skipSpecialTokens = SKIP;
//                              write {"text": ...} lines, as
//                              `ft-tokenize --decode --jsonl` does
// Environment: FT_NPM=DIR holding node_modules/tokenizers (default
// /work/bpe-npm).  To regenerate the fixtures: tests/ref/tokjson_fixtures.sh
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { rng } from './mulberry32.mjs';

const npm = process.env.FT_NPM || '/work/bpe-npm';
const require = createRequire(path.join(npm, 'node_modules', 'x.js'));

function docs(file) {
	return fs.readFileSync(file, 'utf8').split('\n').filter((x) => x.trim() !== '').map((x) => JSON.parse(x).text);
}

function gen(out) {
	const put = (name, arr) => fs.writeFileSync(path.join(out, name),
		arr.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
	put('multi.jsonl', [
		'The quick brown fox jumps over the lazy dog. 1234567 apples!',
		'Voix ambiguë d\u2019un c\u0153ur qui, au z\u00e9phyr, pr\u00e9f\u00e8re les jattes de kiwis.',
		'Falsches \u00dcben von Xylophonmusik qu\u00e4lt jeden gr\u00f6\u00dferen Zwerg. STRASSE Stra\u00dfe',
		'\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a.',
		'\u039e\u03b5\u03c3\u03ba\u03b5\u03c0\u03ac\u03b6\u03c9 \u03c4\u1f74\u03bd \u03c8\u03c5\u03c7\u03bf\u03c6\u03b8\u03cc\u03c1\u03b1 \u0392\u03b4\u03b5\u03bb\u03c5\u03b3\u03bc\u03af\u03b1. \u039f\u0394\u039f\u03a3',
		'\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5\uff1a\u6211\u4eec\u5728\u5317\u4eac\u5927\u5b66\u5b66\u4e60\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002',
		'\u3044\u308d\u306f\u306b\u307b\u3078\u3068 \u3061\u308a\u306c\u308b\u3092 \u30ab\u30bf\u30ab\u30ca\u3068\u6f22\u5b57\u3002',
		'\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc640 \uc22b\uc790 2024\ub144 12\uc6d4',
		'\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0644\u063a\u0629 \u062c\u0645\u064a\u0644\u0629 \u0661\u0662\u0663',
		'\u05e2\u05d1\u05e8\u05d9\u05ea \u05d5\u05e2\u05d5\u05d3 \u05d8\u05e7\u05e1\u05d8',
		'\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e \u0915\u093e \u092a\u093e\u0920 \u0967\u0968\u0969',
		'\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07',
		'Emoji: \ud83d\ude00\ud83d\udc4d\ud83c\udffd \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 \ud83c\uddfa\ud83c\uddf8 done',
		'def f(x):\n\treturn x ** 2  # comment\n\n\nif __name__ == "__main__":\n    print(f(3))\n',
		'<s>inside</s> <s> spaced </s>',
		'<|begin_of_text|>Hi<|end_of_text|><|reserved_special_token_5|>',
		'<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\nanswer<|im_end|>',
		'<|endoftext|><|endoftext|>x<|endoftext',
		'a <L> b  <L>c <R>   d<R>e zqxw zqxws szqxw zqxw_ (zqxw) z\u00e9zqxw <N>x',
		'caf\u00e9 cafe\u0301 \u212b \u1e9b\u0323 \ufb01 \u2460 \uff21\uff22 Hello WORLD \u0130stanbul',
		'   leading and trailing   ', '', ' ', '\n', '\u2581 already\u2581meta \u2581\u2581',
		'Numbers 3.14159 1,000,000 007 \u00bd \u0663\u0664 12345678901234567890',
	]);
	const r = rng(12345), bytes = [];
	for (let d = 0; d < 40; d++) {
		const n = Math.floor(r() * 400), b = new Uint8Array(n);
		for (let i = 0; i < n; i++) {
			const x = r();
			b[i] = x < 0.5 ? 32 + Math.floor(r() * 95) : x < 0.6 ? [9, 10, 13, 32][Math.floor(r() * 4)] : Math.floor(r() * 256);
		}
		bytes.push(new TextDecoder('utf-8').decode(b));
	}
	put('bytes.jsonl', bytes);
	put('runs.jsonl', ['a'.repeat(100000), ' '.repeat(100000), '\n'.repeat(50000), '1'.repeat(100000),
		'\ud83d\ude00'.repeat(30000), '\u00e9'.repeat(50000), 'e\u0301'.repeat(30000), '!'.repeat(100000),
		'ab '.repeat(30000), '\u00a0'.repeat(50000), '\u4e2d'.repeat(50000), 'x' + ' '.repeat(1000) + 'y']);
	// every code point (Hangul syllables apart: a sample) that NFKD changes
	// in the newest Unicode Node knows, 120 a document, with ASCII around
	const ch = [];
	for (let c = 0xA0; c < 0x110000; c++) {
		if ((c >= 0xD800 && c <= 0xDFFF) || (c >= 0xAC00 && c <= 0xD7A3 && c % 97 !== 0))
			continue;
		const s = String.fromCodePoint(c);
		if (s.normalize('NFKD') !== s)
			ch.push(s);
	}
	const norm = [];
	for (let i = 0; i < ch.length; i += 120)
		norm.push('x' + ch.slice(i, i + 120).map((s, k) => k % 3 === 0 ? ' ' + s : k % 3 === 1 ? 'a' + s : s).join('') + ' end');
	const r2 = rng(777), marks = ['\u0301', '\u0300', '\u0323', '\u0308', '\u0334', '\u05ae', '\u0345', '\u0f72', '\u1df6', '\u0d3b', '\u3099'];
	for (let d = 0; d < 20; d++) {
		let t = '';
		for (let i = 0; i < 200; i++) {
			const x = r2();
			t += x < 0.3 ? 'aeiouAEIOU\u03b1\u0391\u1100\u1161\uac00 '[Math.floor(r2() * 17)] :
				x < 0.8 ? marks[Math.floor(r2() * marks.length)] :
					['\u1100', '\u1161', '\u11a7', '\u11a8', '\uac00', '\uac01', '\u0b47', '\u0b3e', '\ufb01', '\u2460', '\uff21', '\u212b'][Math.floor(r2() * 12)];
		}
		norm.push(t);
	}
	put('norm.jsonl', norm);
}

async function load(dir, eosDir) {
	const { Tokenizer } = require('tokenizers');
	const t = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
	if (eosDir) {
		const E = await load(eosDir);
		return { t, eosId: E.eosId, wide: E.wide };
	}
	const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
	let eos = cfg.eos_token;
	if (eos && typeof eos === 'object')
		eos = eos.content;
	const eosId = t.tokenToId(eos);
	if (eosId === undefined || eosId === null)
		throw new Error('no eos ' + eos);
	return { t, eosId, wide: t.getVocabSize(true) > 65536 };
}

async function encodeAll(L, file, add) {
	const out = [];
	for (const s of docs(file)) {
		const e = await L.t.encode(s, null, { addSpecialTokens: add });
		out.push([...e.getIds(), L.eosId]);
	}
	return out;
}

async function main() {
	const [mode, ...a] = process.argv.slice(2);
	if (mode === 'gen')
		return gen(a[0]);
	const L = await load(a[0], a[4]);
	if (mode === 'ids') {
		const ids = (await encodeAll(L, a[2], a[1] === '1')).flat();
		const buf = Buffer.alloc(ids.length * (L.wide ? 4 : 2));
		ids.forEach((v, i) => L.wide ? buf.writeUInt32LE(v, 4 * i) : buf.writeUInt16LE(v, 2 * i));
		fs.writeFileSync(a[3], buf);
	} else if (mode === 'decode') {
		const lines = [];
		for (const ids of await encodeAll(L, a[2], true))
			lines.push(JSON.stringify({ text: await L.t.decode(ids, a[1] === '1') }));
		fs.writeFileSync(a[3], lines.map((x) => x + '\n').join(''));
	} else {
		throw new Error('unknown mode ' + mode);
	}
}
main().catch((e) => { console.error(e); process.exit(1); });
