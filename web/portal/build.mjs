// Builds the portal's files into one flat directory (default ./dist; or the
// first argument), which `stackbill serve` serves at /portal/: the pages and
// scripts of src/ and Chart.js's browser build from node_modules (installed
// by `npm ci` from the lock file). Nothing is fetched at run time.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules/chart.js/package.json'))) {
  console.error(`portal: ${here}/node_modules is missing: run \`npm ci --prefix ${here}\` (scripts/setup does)`);
  process.exit(1);
}
const out = resolve(process.argv[2] ?? join(here, 'dist'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const copies = [
  ...readdirSync(join(here, 'src')).map((name) => [join(here, 'src', name), name]),
  [join(here, 'node_modules/chart.js/dist/chart.umd.min.js'), 'chart.umd.min.js'],
  [join(here, 'node_modules/chart.js/LICENSE.md'), 'chart.js-LICENSE.txt'],
];
for (const [from, name] of copies) copyFileSync(from, join(out, name));
console.log(`portal: ${copies.length} files in ${out}`);
