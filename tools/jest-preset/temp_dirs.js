// Removes, after each test file, every temporary folder its tests made with fs.mkdtemp /
// fs.mkdtempSync / fs.promises.mkdtemp, so a suite leaves nothing behind in the OS temp folder
// (before this, each full run left ~100 folders there). ARTIST_KEEP_TEST_TMP=1 keeps them, to
// look at what a failing test wrote.
const fs = require('node:fs');

const made = [];
const keep = process.env.ARTIST_KEEP_TEST_TMP === '1';
const track = (dir) => {
  made.push(dir);
  return dir;
};

const mkdtempSync = fs.mkdtempSync;
fs.mkdtempSync = (prefix, options) => track(mkdtempSync(prefix, options));
const mkdtempPromise = fs.promises.mkdtemp;
fs.promises.mkdtemp = async (prefix, options) => track(await mkdtempPromise(prefix, options));
const mkdtemp = fs.mkdtemp;
fs.mkdtemp = (prefix, options, callback) => {
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'function' ? undefined : options;
  mkdtemp(prefix, opts, (err, dir) => cb(err, err ? dir : track(dir)));
};

afterAll(() => {
  if (keep) return;
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
