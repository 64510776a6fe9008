// node tests of flowsynth.js: name matching, rescaling, categories, target choice, loop
// prevention, hello/reply ports, one-shot vs continuous application, mapping on reload, the
// model menu, the sketch folder and take hand-off. Run: node tests/js/flowsynth.test.js
"use strict";
var assert = require("assert");
var h = require("./harness");

var tests = [];
function test(name, fn) { tests.push([name, fn]); }

test("names match exactly first, then ignoring case, spaces, underscores", function () {
    var d = h.load("macros"), api = d.api;
    var target = [{ name: "Cutoff" }, { name: "cutoff" }, { name: "Filter Env Amount" }, { name: "osc1 wave" }, { name: "Volume" }];
    var pairs = d.plain(api.matchNames(["cutoff", "filter_env_amount", "OSC1_Wave", "missing"], target));
    assert.deepStrictEqual(pairs, [{ model: 0, target: 1 }, { model: 1, target: 2 }, { model: 2, target: 3 }]);
    // a target parameter is used once: the exact match wins it, the loose one looks further
    pairs = d.plain(api.matchNames(["Cutoff", "cutoff"], [{ name: "cutoff" }, { name: "CUTOFF" }]));
    assert.deepStrictEqual(pairs, [{ model: 0, target: 1 }, { model: 1, target: 0 }]);
});

test("rescale to the parameter's own range, clamped, NaN-safe", function () {
    var api = h.load("macros").api;
    assert.strictEqual(api.rescale(0.5, { min: 20, max: 20000, quantized: false }), 10010);
    assert.strictEqual(api.rescale(0, { min: -5, max: 5 }), -5);
    assert.strictEqual(api.rescale(1.7, { min: 0, max: 2 }), 2);
    assert.strictEqual(api.rescale(-1, { min: 0, max: 2 }), 0);
    assert.strictEqual(api.rescale(NaN, { min: 3, max: 9 }), 3);
});

test("categorical and stepped values take the nearest step", function () {
    var api = h.load("macros").api;
    var wave = { min: 0, max: 3, quantized: true }; // saw, pulse, triangle, sine
    assert.strictEqual(api.rescale(1 / 3, wave), 1);
    assert.strictEqual(api.rescale(2 / 3, wave), 2);
    assert.strictEqual(api.rescale(0.49, { min: 0, max: 1, quantized: true }), 0);
    assert.strictEqual(api.rescale(0.5, { min: 1, max: 7, quantized: true }), 4);
});

test("target: the next device by default, or the one chosen", function () {
    var d = h.load("macros"), api = d.api;
    assert.strictEqual(api.pickTarget([10, 20, 30], 10, 0), 20);
    assert.strictEqual(api.pickTarget([5, 10], 10, 0), 0);      // last on the track: none
    assert.strictEqual(api.pickTarget([10, 20, 30], 10, 3), 30);
    assert.strictEqual(api.pickTarget([10, 20, 30], 10, 9), 0);
    assert.deepStrictEqual(d.plain(api.idsOf(["id", 4, "id", 9])), [4, 9]);
});

test("reply ports differ per slot and role; an override wins", function () {
    var d = h.load("macros");
    assert.strictEqual(d.api.autoReplyPort(1, "macros"), 9210);
    assert.strictEqual(d.api.autoReplyPort(1, "sketch"), 9211);
    assert.strictEqual(d.api.autoReplyPort(16, "macros"), 9360);
    d.call("init");
    var m = d.take();
    assert.deepStrictEqual(m[0], [1, "port", 9210]);
    assert.ok(m.some(function (x) { return x[0] === 0 && x[1] === "/flowsynth/1/hello" && x[2] === 9210; }));
    d.call("slotindex", 2); // live.menu index 2 = slot 3
    assert.ok(d.take(1).some(function (x) { return x[2] === 9230; }));
    d.call("port", 7000);
    assert.ok(d.take(0).some(function (x) { return x[1] === "/flowsynth/3/hello" && x[2] === 7000; }));
});

test("hello every 2 s until welcome, then every 10 s; info once", function () {
    var d = h.load("macros");
    d.call("init");
    var live = d.tasks.filter(function (t) { return !t.cancelled; });
    assert.strictEqual(live[live.length - 1].interval, 2000);
    d.take();
    d.osc("/flowsynth/welcome", 1, "0.1.0");
    live = d.tasks.filter(function (t) { return !t.cancelled; });
    assert.strictEqual(live.length, 1);
    assert.strictEqual(live[0].interval, 10000);
    assert.ok(d.take(0).some(function (x) { return x[1] === "/flowsynth/1/info"; }));
    d.osc("/flowsynth/welcome", 1, "0.1.0");
    assert.strictEqual(d.take(0).length, 0);
});

test("dial moves send macros; server-set values do not echo back", function () {
    var d = h.load("macros");
    d.call("dial", 2, 0.75);
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/1/macro", 2, 0.75]]);
    d.osc("/flowsynth/1/macros", 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8);
    var ui = d.take(2);
    assert.strictEqual(ui.length, 8);
    assert.deepStrictEqual(ui[3], [2, 3, "set", 0.4]);
    d.call("dial", 3, 0.4);               // Live reporting the value we just set
    assert.strictEqual(d.take(0).length, 0);
    d.call("dial", 3, 0.41);              // the musician turning it
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/1/macro", 3, 0.41]]);
    d.call("dial", 3, 0.4);               // and back: now it is news
    assert.strictEqual(d.take(0).length, 1);
});

test("macro names label the dials (short name, Info View title), long names stay", function () {
    var d = h.load("macros");
    d.osc("/flowsynth/1/macro_names", "calm_aggressive", "dark_bright");
    assert.deepStrictEqual(d.take(2), [[2, 0, "_parameter_shortname", "calm_aggressive"],
                                       [2, 0, "annotation_name", "Macro 1: calm_aggressive"],
                                       [2, 1, "_parameter_shortname", "dark_bright"],
                                       [2, 1, "annotation_name", "Macro 2: dark_bright"]]);
    assert.ok(!/_parameter_longname/.test(require("fs").readFileSync(require("path").join(__dirname, "..", "..", "m4l_devices", "flowsynth.js"), "utf8").replace(/\/\/.*/g, "")));
});

test("map reads the target through the Live API and binds live.remote~", function () {
    var live = h.fakeSet([{ name: "Device On", is_quantized: 1 }, { name: "Cutoff", min: 20, max: 20000 },
                          { name: "OSC1 Wave", min: 0, max: 3, is_quantized: 1, value_items: ["saw", "pulse", "tri", "sine"] },
                          { name: "Resonance" }]);
    var d = h.load("macros", live);
    d.call("ready");
    d.take();
    d.osc("/flowsynth/1/names", "cutoff", "osc1_wave", "resonance", "drive"); // maps by itself
    var st = d.take(5).filter(function (x) { return x[1] === "matched"; });
    assert.ok(/matched 3\/4 in Diva/.test(st[st.length - 1][2]), st);
    assert.deepStrictEqual(d.take(4), [[4, 0, "id", 22], [4, 1, "id", 23], [4, 2, "id", 24]]);
    d.osc("/flowsynth/1/params", 0.5, 1 / 3, 0.25, 0.9);
    assert.deepStrictEqual(d.take(3), [[3, 0, 10010], [3, 1, 1], [3, 2, 0.25]]);
    assert.strictEqual(live.sets.length, 0); // continuous: no Live API writes, no undo steps
});

test("explore and sketch results apply once through the Live API (undoable)", function () {
    var live = h.fakeSet([{ name: "cutoff", min: 0, max: 10 }, { name: "drive" }]);
    var d = h.load("macros", live);
    d.call("ready");
    d.osc("/flowsynth/1/names", "cutoff", "drive");
    d.take();
    d.call("radius", 2);
    d.call("explore");
    var sent = d.take(0);
    assert.strictEqual(sent[0][1], "/flowsynth/1/explore");
    assert.strictEqual(sent[0][2], 2);
    d.osc("/flowsynth/1/params", 0.3, 0.6);
    assert.deepStrictEqual(live.sets, [[21, "value", 3], [22, "value", 0.6]]);
    assert.ok(d.take(4).every(function (x) { return x[3] === 0; })); // remotes released
    assert.strictEqual(d.take(3).length, 0);
    // the next reply after a dial move is continuous again, remotes bound again
    d.call("dial", 0, 0.2);
    d.osc("/flowsynth/1/params", 0.1, 0.1);
    assert.strictEqual(d.take(3).length, 2);
    assert.strictEqual(live.sets.length, 2);
    // a sketch from the Sketch device: busy 1 then params -> one-shot
    d.osc("/flowsynth/1/busy", 1);
    d.osc("/flowsynth/1/params", 1, 1);
    d.osc("/flowsynth/1/busy", 0);
    assert.strictEqual(live.sets.length, 4);
});

test("replies for other slots and errors are handled", function () {
    var d = h.load("macros");
    d.osc("/flowsynth/2/macros", 0.9);
    assert.strictEqual(d.take(2).length, 0);
    d.osc("/flowsynth/error", 1, "no_model", "slot 1 has no model");
    assert.deepStrictEqual(d.take(5), [[5, "error", "no_model: slot 1 has no model"]]);
    d.osc("/flowsynth/error", 4, "bad_args", "not ours");
    assert.strictEqual(d.take(5).length, 0);
});

test("sketch role: record, write the take, send its path once buffer~ says it is written", function () {
    var d = h.load("sketch");
    d.call("rec", 1);
    assert.deepStrictEqual(d.take(5)[0][1], "error"); // no folder: no server and none chosen
    d.call("folder", "/tmp/sketches");
    d.call("rec", 1);
    d.take();
    d.call("rec", 0);
    var ctl = d.take(3);
    assert.deepStrictEqual(ctl[0], [3, "record", 0]);
    assert.strictEqual(ctl[1][1], "buffer");
    assert.strictEqual(ctl[1][2], "crop");
    assert.deepStrictEqual(ctl[2], [3, "buffer", "writewav", "/tmp/sketches/flowsynth-sketch-1-1.wav"]);
    assert.strictEqual(d.take(0).length, 0);  // not before the file is complete
    var guard = d.tasks[d.tasks.length - 1];
    d.call("written");                        // buffer~'s bang: the write is done
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/1/sketch", "/tmp/sketches/flowsynth-sketch-1-1.wav"]]);
    assert.ok(guard.cancelled);
    guard.fn();                               // a late guard sends nothing twice
    assert.strictEqual(d.take(0).length, 0);
    d.osc("/flowsynth/1/rendered", "/tmp/r.wav");
    assert.deepStrictEqual(d.take(3), [[3, "audition", "open", "/tmp/r.wav"]]);
});

test("sketch role: the server's sketch folder is asked for and used; a chosen folder wins", function () {
    var d = h.load("sketch");
    d.call("init");
    d.take();
    d.osc("/flowsynth/welcome", 1, "0.1.0");
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/sketch_dir"]]);
    d.osc("/flowsynth/sketch_dir", "/tmp/flowsynth-sketches");
    d.call("rec", 1);
    d.call("rec", 0);
    assert.ok(d.take(3).some(function (x) { return x[2] === "writewav" && x[3] === "/tmp/flowsynth-sketches/flowsynth-sketch-1-1.wav"; }));
    d.call("folder", "/Users/me/takes");
    d.call("rec", 1);
    d.call("rec", 0);
    assert.ok(d.take(3).some(function (x) { return x[2] === "writewav" && x[3] === "/Users/me/takes/flowsynth-sketch-1-2.wav"; }));
    // a lost bang: the guard sends it after a while all the same
    var guard = d.tasks[d.tasks.length - 1];
    assert.strictEqual(guard.delay, 3000);
    d.take(0);
    guard.fn();
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/1/sketch", "/Users/me/takes/flowsynth-sketch-1-2.wav"]]);
});

test("sketch role: the take's note is shown, or that it has none", function () {
    var d = h.load("sketch");
    d.osc("/flowsynth/1/sketch_note", 57, 220.4, 0.93);
    assert.deepStrictEqual(d.take(5), [[5, "note", "note A3 (57), 220.4 Hz, 93% sure"]]);
    d.osc("/flowsynth/1/sketch_note", -1, 0, 0.1);
    assert.deepStrictEqual(d.take(5), [[5, "note", "no pitch: an unpitched sketch"]]);
    d.osc("/flowsynth/2/sketch_note", 60, 261.6, 1);  // another slot's
    assert.strictEqual(d.take(5).length, 0);
});

test("sketch role: the Play button goes off when the take has played", function () {
    var d = h.load("sketch");
    d.call("play", 1);
    assert.deepStrictEqual(d.take(3), [[3, "play", 1]]);
    d.call("played");
    assert.deepStrictEqual(d.take(2), [[2, 1, "set", 0]]);
});

function synthSet() {
    var live = h.fakeSet([{ name: "Cutoff", min: 20, max: 20000 }, { name: "Resonance" }]);
    live.objects[30].parameters = [];
    return live;
}

test("reopened set: the saved target is mapped once names arrive, with no Map press", function () {
    var live = synthSet();
    live.devices = [10, 30, 20];          // since saving, the Reverb moved before the synth
    var d = h.load("macros", live);
    d.call("savedtarget", 2, "Diva");     // the pattr gives back what was stored: 2nd device, Diva
    d.call("ready");                      // live.thisdevice
    d.osc("/flowsynth/welcome", 1, "0.1.0");
    assert.ok(d.take(0).some(function (x) { return x[1] === "/flowsynth/1/info"; }));
    assert.strictEqual(d.take(4).filter(function (x) { return x[3] !== 0; }).length, 0); // nothing bound yet
    d.osc("/flowsynth/1/names", "cutoff", "resonance");
    assert.deepStrictEqual(d.take(4), [[4, 0, "id", 21], [4, 1, "id", 22]]); // Diva, found by name
    var st = d.take(5).filter(function (x) { return x[1] === "matched"; });
    assert.ok(/matched 2\/2 in Diva/.test(st[st.length - 1][2]), JSON.stringify(st));
    d.osc("/flowsynth/1/params", 0.5, 0.25);     // recorded automation now drives the synth
    assert.deepStrictEqual(d.take(3), [[3, 0, 10010], [3, 1, 0.25]]);
});

test("reopened set without a saved target maps the next device", function () {
    var live = synthSet();
    var d = h.load("macros", live);
    d.call("ready");
    d.osc("/flowsynth/1/names", "Cutoff");
    assert.deepStrictEqual(d.take(4), [[4, 0, "id", 21]]);
});

test("Map pressed before the names arrive finishes when they do", function () {
    var live = synthSet();
    var d = h.load("macros", live);
    d.call("ready");
    d.take();
    d.call("map");
    assert.ok(d.take(0).some(function (x) { return x[1] === "/flowsynth/1/info"; }));
    assert.ok(/waiting/.test(d.take(5).filter(function (x) { return x[1] === "matched"; })[0][2]));
    d.osc("/flowsynth/1/names", "cutoff", "resonance");
    assert.deepStrictEqual(d.take(4), [[4, 0, "id", 21], [4, 1, "id", 22]]);
});

test("target menu: '(this)' marks this device (string ids), a choice is stored with its name", function () {
    var live = synthSet();
    var d = h.load("macros", live);
    d.call("ready");
    var items = d.take(5).filter(function (x) { return x[1] === "targets" && x[2] === "append"; }).map(function (x) { return x[3]; });
    assert.deepStrictEqual(items, ["next device", "1 FlowSynth Macros (this)", "2 Diva", "3 Reverb"]);
    d.call("target", 2);
    assert.deepStrictEqual(d.take(5).filter(function (x) { return x[1] === "targetsave"; }), [[5, "targetsave", 2, "Diva"]]);
    d.call("savedtarget", 2, "Diva");     // the pattr echoing the store: no second map
    assert.strictEqual(d.take(4).length, 0);
    assert.strictEqual(d.api.resolveChoice(["A", "B", "B"], 2, "B"), 2);
    assert.strictEqual(d.api.resolveChoice(["B", "A"], 2, "B"), 1);
    assert.strictEqual(d.api.resolveChoice(["C", "A"], 2, "B"), 2);   // gone: keep the position
});

test("model menu: filled from /flowsynth/models, loads into the slot, shows the loaded one", function () {
    var d = h.load("macros");
    d.call("init");
    d.take();
    d.osc("/flowsynth/welcome", 1, "0.1.0");
    assert.ok(d.take(0).some(function (x) { return x[1] === "/flowsynth/models"; }));
    d.take(5);
    d.osc("/flowsynth/models", "subtractive", "diva-32");
    assert.deepStrictEqual(d.take(5), [[5, "models", "clear"], [5, "models", "append", "subtractive"], [5, "models", "append", "diva-32"]]);
    d.call("loadmodel", 1);
    assert.deepStrictEqual(d.take(0), [[0, "/flowsynth/1/load", "diva-32"]]);
    d.osc("/flowsynth/1/info", "diva-32", "vst3:Diva", 31, 16, 8);
    var st = d.take(5);
    assert.ok(st.some(function (x) { return x[1] === "model" && /diva-32/.test(x[2]); }));
    assert.ok(st.some(function (x) { return x[1] === "models" && x[2] === "set" && x[3] === 1; }));
    d.call("loadmodel", 7);
    assert.strictEqual(d.take(0).length, 0);
    assert.strictEqual(d.take(5)[0][1], "error");
});

test("switching slots drops the old names and mapping until the new slot's arrive", function () {
    var live = synthSet();
    var d = h.load("macros", live);
    d.call("ready");
    d.osc("/flowsynth/1/names", "cutoff", "resonance");
    d.take();
    d.call("slotindex", 1);
    var ids = d.take(4);
    assert.ok(ids.length > 0 && ids.every(function (x) { return x[3] === 0; })); // remotes freed
    assert.strictEqual(d.api.getState().names.length, 0);
    d.osc("/flowsynth/2/params", 0.5, 0.5);
    assert.strictEqual(d.take(3).length, 0);
    d.osc("/flowsynth/2/names", "cutoff");           // the new slot's model maps by itself
    assert.deepStrictEqual(d.take(4), [[4, 0, "id", 21]]);
});

test("more matches than live.remote~ boxes: the rest follow one-shot results only", function () {
    var n = 130, params = [], names = [], i;
    for (i = 0; i < n; i++) { params.push({ name: "p" + i }); names.push("p" + i); }
    var live = h.fakeSet(params);
    var d = h.load("macros", live);
    d.call("ready");
    d.osc.apply(null, ["/flowsynth/1/names"].concat(names));
    assert.strictEqual(d.api.N_REMOTES, 128);
    assert.strictEqual(d.take(4).length, 128);
    assert.ok(/2 past 128/.test(d.take(5).filter(function (x) { return x[1] === "matched"; }).pop()[2]));
    var vals = []; for (i = 0; i < n; i++) vals.push(0.5);
    d.osc.apply(null, ["/flowsynth/1/params"].concat(vals));
    assert.strictEqual(d.take(3).length, 128);
    assert.strictEqual(live.sets.length, 0);          // no undo step per dial move
    d.call("explore");
    d.osc.apply(null, ["/flowsynth/1/params"].concat(vals));
    assert.strictEqual(live.sets.length, n);          // one undoable step sets them all
});

test("patch role drives vst~ parameters by 1-based index", function () {
    var d = h.load("patch");
    d.osc("/flowsynth/1/params", 0.25, 0.5);
    assert.deepStrictEqual(d.take(3), [[3, 1, 0.25], [3, 2, 0.5]]);
});

var failed = 0;
tests.forEach(function (t) {
    try { t[1](); console.log("ok - " + t[0]); } catch (e) { failed++; console.log("not ok - " + t[0] + "\n" + e.stack); }
});
console.log(failed ? failed + " failed" : "all " + tests.length + " passed");
process.exit(failed ? 1 : 0);
