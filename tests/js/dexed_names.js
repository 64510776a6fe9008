// The Macros device's name matching and one-shot parameter setting on a real plugin's names:
// node tests/js/dexed_names.js CASE.json, where CASE holds the model's parameter names, the
// plugin's parameters as Live lists them ({name}, each 0..1) and one /params reply's values.
// Prints {status, matched: [target name of each model parameter], set: {target name: value}}.
"use strict";
var fs = require("fs");
var h = require("./harness");

var c = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
var live = h.fakeSet(c.targets);
var d = h.load("macros", live);
d.call("ready");
d.osc.apply(null, ["/flowsynth/1/names"].concat(c.names));
var st = d.take(5).filter(function (x) { return x[1] === "matched"; });
var matched = d.api.getState().matches.map(function (m) { return live.objects[m.id].name; });
d.call("explore"); // the reply to a one-shot request goes through the Live API, every parameter
d.osc.apply(null, ["/flowsynth/1/params"].concat(c.values));
var set = {};
live.sets.forEach(function (s) { if (s[1] === "value") set[live.objects[s[0]].name] = s[2]; });
console.log(JSON.stringify({ status: st.length ? st[st.length - 1][2] : "", matched: matched, set: set }));
