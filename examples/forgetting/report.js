// The forgetting report: for each run directory (ft-train's metrics.jsonl,
// and RUN.time from /usr/bin/time -f '%M %e'), every evaluation set's loss
// at the start (step 0, the base model), at its best and at the end, the
// time per optimizer step (train_runtime less the evaluations, / steps)
// and the peak RSS of the whole ft-train process.
//
//   node report.js RUN...        (e.g. node report.js full lora)
'use strict';
const fs = require('fs');

const runs = process.argv.slice(2);
if (runs.length === 0) {
	process.stderr.write('usage: node report.js RUN...\n');
	process.exit(2);
}

function read(run) {
	const lines = fs.readFileSync(run + '/metrics.jsonl', 'utf8').split('\n');
	const sets = {};
	let end = null;
	let evalTime = 0;
	for (const [i, l] of lines.entries()) {
		if (l.trim() === '')
			continue;
		let e;
		try {
			e = JSON.parse(l);
		} catch (err) {
			throw new Error(run + '/metrics.jsonl:' + (i + 1) + ': ' + err.message);
		}
		if ('train_runtime' in e)
			end = e;
		for (const k of Object.keys(e)) {
			const m = /^eval_(?:(.+)_)?loss$/.exec(k);
			if (m) {
				const name = m[1] || 'eval';
				(sets[name] = sets[name] || []).push([e.step, e[k]]);
			}
			if (/^eval_.*runtime$/.test(k))
				evalTime += e[k];
		}
	}
	if (end === null)
		throw new Error(run + '/metrics.jsonl: no final entry (train_runtime): the run did not finish');
	let rss = NaN;
	try {
		rss = parseInt(fs.readFileSync(run + '.time', 'utf8').trim().split(/\s+/)[0], 10) / 1024;
	} catch (err) {
		// no /usr/bin/time record: RSS unknown
	}
	return { sets, end, evalTime, rss };
}

const fmt = (x) => x.toFixed(4);
const out = [];
let R;
try {
	R = runs.map((r) => [r, read(r)]);
} catch (err) {
	process.stderr.write('report.js: ' + err.message + '\n');
	process.exit(1);
}
const names = [...new Set(R.flatMap(([, d]) => Object.keys(d.sets)))].sort();
out.push('run    set        start    best (step)        end      end-start   ');
for (const [run, d] of R) {
	for (const n of names) {
		const v = d.sets[n];
		if (!v)
			continue;
		const best = v.reduce((a, b) => (b[1] < a[1] ? b : a));
		const [s, e] = [v[0][1], v[v.length - 1][1]];
		out.push(run.padEnd(6) + ' ' + n.padEnd(9) + ' ' + fmt(s) + '   ' +
			(fmt(best[1]) + ' (' + best[0] + ')').padEnd(17) + '  ' + fmt(e) + '   ' +
			((e - s >= 0 ? '+' : '') + fmt(e - s) + ' (' +
			(e - s >= 0 ? '+' : '') + (100 * (e - s) / s).toFixed(1) + '%)'));
	}
}
out.push('');
for (const [run, d] of R) {
	const steps = d.end.step;
	const ms = 1000 * (d.end.train_runtime - d.evalTime) / steps;
	out.push(run.padEnd(6) + ' ' + steps + ' steps, ' + ms.toFixed(1) +
		' ms/step (evaluations excluded), train_loss ' + fmt(d.end.train_loss) +
		', peak RSS ' + (isNaN(d.rss) ? '?' : d.rss.toFixed(0)) + ' MB');
}
process.stdout.write(out.join('\n') + '\n');
