// restore.js: the stand-in's main step (see action.yml): restores the
// entry for key, if there is one, and sets cache-hit.
"use strict";
const fs = require("fs");
const { key, dir, paths, file, tar, append } = require("./entry.js");

if (!key || paths.length === 0) {
  console.log("::error::the stand-in for actions/cache needs path and key");
  process.exit(1);
}
let hit = false;
if (!dir) {
  console.log(`SLIPWAY_ACT_CACHE is not set: no cache to restore ${key} from`);
} else if (fs.existsSync(file)) {
  tar(["-x", "-f", file]);
  hit = true;
  console.log(`Cache restored from key: ${key}`);
} else {
  console.log(`Cache not found for input keys: ${key}`);
}
append("GITHUB_OUTPUT", "cache-hit", String(hit));
append("GITHUB_STATE", "hit", String(hit));
