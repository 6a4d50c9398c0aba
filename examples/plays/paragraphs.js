// Plain text on stdin -> JSONL on stdout, one {"id","text"} record per
// paragraph (blocks separated by blank lines).
'use strict';
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
	const text = Buffer.concat(chunks).toString('utf8');
	let id = 0;
	for (const p of text.split(/\r?\n[ \t]*\r?\n/)) {
		const t = p.trim();
		if (t.length > 0)
			process.stdout.write(JSON.stringify({ id: id++, text: t }) + '\n');
	}
});
