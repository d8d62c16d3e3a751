// entry.js: what the stand-in's restore.js and save.js share (see
// action.yml): the inputs, the entry of a key and the tar commands.
"use strict";
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const key = process.env.INPUT_KEY || "";
const dir = process.env.SLIPWAY_ACT_CACHE || "";
const paths = (process.env.INPUT_PATH || "").split("\n").map((p) => p.trim()).filter((p) => p !== "");

// zstd where it is installed, as actions/cache prefers it; gzip otherwise.
const zstd = (() => {
  try {
    execFileSync("zstd", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

// file is the entry of key in dir, named by a SHA-256 of the key, the
// paths and the compressor: like actions/cache, whose entries have a
// version made of the paths and the compression, an entry saved for other
// paths is not restored.
const file = dir && path.join(dir, crypto.createHash("sha256").update(JSON.stringify([key, paths, zstd ? "zstd" : "gzip"])).digest("hex") + (zstd ? ".tar.zst" : ".tar.gz"));

// tar runs tar with the compressor and absolute paths (-P), as the real
// action does.
function tar(args) {
  execFileSync("tar", [...args, "-P", zstd ? "--use-compress-program=zstd -T0" : "-z"], { stdio: "inherit" });
}

// append adds name=value to the file a runner variable names
// ($GITHUB_OUTPUT, $GITHUB_STATE).
function append(variable, name, value) {
  fs.appendFileSync(process.env[variable], `${name}=${value}\n`);
}

module.exports = { key, dir, paths, file, tar, append };
