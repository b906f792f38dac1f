// Differential oracle: node-semver's compare() (strict). Reads "A\tB" lines.
const path = require('path');
const os = require('os');
const dir = process.env.CAISSON_NODE_ORACLE || path.join(os.homedir(), '.cache/caisson/oracles/node');
const semver = require(path.join(dir, 'node_modules/semver'));
const lines = require('fs').readFileSync(0, 'utf8').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const line of lines) {
  const i = line.indexOf('\t');
  const a = line.slice(0, i), b = line.slice(i + 1);
  try {
    const r = semver.compare(new semver.SemVer(a), new semver.SemVer(b));
    out.push(r < 0 ? '<' : r > 0 ? '>' : '=');
  } catch (e) {
    out.push('error');
  }
}
process.stdout.write(out.join('\n') + '\n');
