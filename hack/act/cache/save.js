// save.js: the stand-in's post step, run when the job succeeded (see
// action.yml): after a miss, saves path under key, as actions/cache does.
"use strict";
const fs = require("fs");
const { key, dir, paths, file, tar } = require("./entry.js");

if (process.env.STATE_hit === "true") {
  console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
} else if (!dir) {
  console.log(`SLIPWAY_ACT_CACHE is not set: ${key} is not saved`);
} else if (!paths.every((p) => fs.existsSync(p))) {
  console.log("::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.");
} else if (fs.existsSync(file)) {
  console.log(`::warning::Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
} else {
  fs.mkdirSync(dir, { recursive: true });
  // Written aside and renamed, so a lookup never finds half an entry.
  const part = `${file}.${process.pid}`;
  tar(["-c", "-f", part, ...paths]);
  fs.renameSync(part, file);
  console.log(`Cache saved with key: ${key}`);
}
