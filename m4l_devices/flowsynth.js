// flowsynth.js: the logic of the FlowSynth devices and patches, for Max's [js] object.
// ES5 only (Live 11's Max 8 runs an ES5 engine). Everything that is not wiring lives here so
// that it can be tested under node with stand-ins for Max's globals (tests/js/).
//
// [js flowsynth.js <role>]  role: macros (Live MIDI effect), sketch (Live audio effect),
//                           patch (flowsynth.maxpat, drives vst~), test (flowsynth-test.maxpat)
// inlet 0: controls from the device (dial i v, slot n, map, explore, ...)
// inlet 1: OSC replies from [udpreceive] (selector = OSC address)
// outlet 0: to [udpsend]     outlet 1: to [udpreceive] (port n)
// outlet 2: UI updates       "<k> set <v>", "<k> _parameter_shortname <name>" (-> route -> dials)
// outlet 3: parameter values "<k> <value>" (-> route -> live.remote~ / vst~ / recorder)
// outlet 4: remote bindings  "<k> id <n>"  (-> route -> live.remote~ right inlets)
// outlet 5: status           "status|model|matched|error|port|busy|note|targets|models|targetsave ..."
//                            (-> comments, the target and model menus, the stored target)

inlets = 2;
outlets = 6;
autowatch = 1;

var N_MACROS = 8;
var N_REMOTES = 128;          // live.remote~ boxes the Macros device carries
var HELLO_FAST_MS = 2000;     // say hello this often until the server answers...
var HELLO_SLOW_MS = 10000;    // ...then this often, so a restarted server finds us again
var ECHO_EPS = 1e-6;
var ROLE_PORT = { macros: 0, sketch: 1, patch: 2, test: 3 };
var MAX_TAKE_MS = 8000;
var WRITE_FALLBACK_MS = 3000; // buffer~ bangs when its write is done; this only guards a lost bang

var role = (typeof jsarguments !== "undefined" && jsarguments.length > 1) ? String(jsarguments[1]) : "macros";
var state = newState();

function newState() {
    return {
        slot: 1, serverHost: "127.0.0.1", serverPort: 9123, portOverride: 0, replyPort: 0,
        connected: false, helloTask: null, helloInterval: 0,
        names: [], macroNames: [], model: "",
        lastSet: [], dialValues: [], radius: 1.0, seed: 0,
        targetChoice: 0, targetName: "", targets: [], matches: [], bound: false,
        oneShotPending: false, liveReady: false, mapWanted: false, modelList: [],
        folder: "", serverFolder: "", takeCount: 0, recStart: 0, recording: false, busy: false
    };
}

// ---------------------------------------------------------------- pure helpers (tested)

// Auto reply port: distinct for every (slot, role) so that several devices in one set never
// fight over one [udpreceive] port. 9200 + 10 * slot + role: slot 1 Macros = 9210.
function autoReplyPort(slot, r) {
    return 9200 + 10 * slot + (ROLE_PORT.hasOwnProperty(r) ? ROLE_PORT[r] : 0);
}

function looseName(s) {
    return String(s).toLowerCase().replace(/[\s_\-]+/g, "");
}

// Match the model's parameter names to the target's: exact first, then ignoring case, spaces,
// underscores and hyphens. Each target parameter is used at most once.
// targetParams: [{id, name, min, max, quantized, items}] -> [{model: i, target: j}]
function matchNames(modelNames, targetParams) {
    var used = {}, out = [], i, j, pass;
    var byModel = [];
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < modelNames.length; i++) {
            if (byModel[i] !== undefined) continue;
            for (j = 0; j < targetParams.length; j++) {
                if (used[j]) continue;
                var a = modelNames[i], b = targetParams[j].name;
                if (pass === 0 ? a === b : looseName(a) === looseName(b)) {
                    byModel[i] = j; used[j] = true; break;
                }
            }
        }
    }
    for (i = 0; i < modelNames.length; i++) {
        if (byModel[i] !== undefined) out.push({ model: i, target: byModel[i] });
    }
    return out;
}

// A normalized value in [0, 1] to the target parameter's own range. Quantized parameters
// (on/off, integer steps, menus such as a waveform) take the nearest step, which is what
// the model's normalized category index means.
function rescale(v, p) {
    if (!(v === v)) v = 0; // NaN guard: never send NaN into Live
    if (v < 0) v = 0;
    if (v > 1) v = 1;
    var x = p.min + v * (p.max - p.min);
    if (p.quantized) x = Math.round(x);
    return x;
}

// Which device to drive: the one after this device on its track, or a chosen one.
// deviceIds: the track's devices in order; choice 0 = next device, k > 0 = deviceIds[k - 1].
// LiveAPI ids arrive as strings in Max ("10") and as numbers in lists: compare as numbers.
function pickTarget(deviceIds, thisId, choice) {
    if (choice > 0) return choice <= deviceIds.length ? deviceIds[choice - 1] : 0;
    for (var i = 0; i < deviceIds.length - 1; i++) {
        if (Number(deviceIds[i]) === Number(thisId)) return deviceIds[i + 1];
    }
    return 0;
}

// A saved choice names the device too: when devices were added or moved since the set was
// saved, the device of that name wins over the stale position (if exactly one has it).
function resolveChoice(deviceNames, choice, name) {
    if (choice <= 0 || !name) return choice;
    if (choice <= deviceNames.length && deviceNames[choice - 1] === name) return choice;
    var found = 0, count = 0;
    for (var i = 0; i < deviceNames.length; i++) if (deviceNames[i] === name) { found = i + 1; count++; }
    return count === 1 ? found : choice;
}

function idsOf(list) { // LiveAPI returns ["id", 3, "id", 7]
    var out = [];
    if (!list) return out;
    for (var i = 0; i + 1 < list.length; i += 2) if (list[i] === "id") out.push(Number(list[i + 1]));
    return out;
}

function firstOf(v) { return (v && typeof v === "object" && v.length !== undefined) ? v[0] : v; }

function addr(verb) { return "/flowsynth/" + state.slot + "/" + verb; }

function send() { outlet.apply(null, [0].concat(Array.prototype.slice.call(arguments))); }

function status(kind, text) { outlet(5, kind, text); }

var NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

// The sketch's pitch as the server heard it: the note to play the matched preset at.
function noteText(args) {
    var midi = Math.round(Number(args[0])), hz = Number(args[1]), conf = Number(args[2]);
    if (!(midi >= 0 && midi <= 127)) return "no pitch: an unpitched sketch";
    return "note " + NOTE_NAMES[midi % 12] + (Math.floor(midi / 12) - 1) + " (" + midi + "), " +
        hz.toFixed(1) + " Hz, " + Math.round(100 * conf) + "% sure";
}

// ---------------------------------------------------------------- connection

function init() {
    state.replyPort = state.portOverride > 0 ? state.portOverride : autoReplyPort(state.slot, role);
    outlet(1, "port", state.replyPort);
    outlet(0, "host", state.serverHost);
    outlet(0, "port", state.serverPort);
    status("port", "reply port " + state.replyPort);
    state.connected = false;
    status("status", "connecting to " + state.serverHost + ":" + state.serverPort);
    hello();
    schedule(HELLO_FAST_MS);
    if (role === "macros" && liveApi()) {
        try { refresh(); } catch (e) { status("error", "Live API: " + e); }
    }
}

function liveApi() { return state.liveReady && typeof LiveAPI !== "undefined"; }

function loadbang() { init(); }

// live.thisdevice: the Live API can be used from now on (not before: Max says so).
function ready() {
    state.liveReady = true;
    if (role === "macros") state.mapWanted = true; // map the target as soon as names are known
    init();
}

function hello() {
    send(addr("hello"), state.replyPort, role);
}

function schedule(ms) {
    if (state.helloInterval === ms && state.helloTask) return;
    if (state.helloTask) state.helloTask.cancel();
    state.helloInterval = ms;
    state.helloTask = new Task(tick, this);
    state.helloTask.interval = ms;
    state.helloTask.repeat();
}

function tick() {
    // A server that stopped answering is noticed at the next slow hello: back to fast.
    if (state.connected && state.helloInterval === HELLO_SLOW_MS && state.awaiting) {
        state.connected = false;
        status("status", "no answer from " + state.serverHost + ":" + state.serverPort);
        schedule(HELLO_FAST_MS);
    }
    state.awaiting = true;
    hello();
}

function slot(n) {
    n = Math.floor(Number(n));
    if (!(n >= 1 && n <= 16)) { status("error", "slot must be 1 to 16"); return; }
    if (n !== state.slot) forgetSlot();
    state.slot = n;
    init();
}

// The old slot's names and mapping do not describe the new slot's model: drop them (and free
// the target's parameters) until the new slot's info and names arrive.
function forgetSlot() {
    release();
    state.matches = [];
    state.names = [];
    state.macroNames = [];
    state.model = "";
    state.lastSet = [];
    if (role === "macros") state.mapWanted = state.liveReady;
    status("model", "waiting for the new slot's model");
    status("matched", "");
}

function slotindex(i) { slot(Math.floor(Number(i)) + 1); } // live.menu gives 0..15

function models() { send("/flowsynth/models"); }

// The model menu: item i of the last /flowsynth/models list -> /flowsynth/S/load <name>.
function loadmodel(i) {
    i = Math.floor(Number(i));
    if (!(i >= 0 && i < state.modelList.length)) { status("error", "no such model: press Models to list them"); return; }
    send(addr("load"), state.modelList[i]);
    status("model", "loading " + state.modelList[i] + "...");
}

function showModels(names) {
    state.modelList = names.map(String);
    outlet(5, "models", "clear");
    for (var i = 0; i < state.modelList.length; i++) outlet(5, "models", "append", state.modelList[i]);
    if (!state.modelList.length) outlet(5, "models", "append", "(no models)");
    markModel();
}

// Show the slot's loaded model in the menu, without sending a load.
function markModel() {
    var k = state.modelList.indexOf(state.model);
    if (k >= 0) outlet(5, "models", "set", k);
}

function port(n) { state.portOverride = Math.max(0, Math.floor(Number(n))); init(); }

function server(p) { state.serverPort = Math.floor(Number(p)); init(); }

function host(h) { state.serverHost = String(h); init(); }

// ---------------------------------------------------------------- controls

function dial(i, v) {
    i = Math.floor(Number(i)); v = Number(v);
    if (i < 0 || i >= N_MACROS) return;
    // Loop prevention: a value the server just set (via "set") that comes back is not news.
    if (state.lastSet[i] !== undefined && Math.abs(state.lastSet[i] - v) < ECHO_EPS) return;
    state.lastSet[i] = undefined;
    state.dialValues[i] = v;
    state.oneShotPending = false;
    send(addr("macro"), i, v);
}

function anchor(which) { send(addr("anchor"), String(which)); }

function morph(t) { state.oneShotPending = false; send(addr("morph"), Number(t)); }

function radius(r) { state.radius = Number(r); }

function explore() {
    state.oneShotPending = true; // the jump is one undoable step in Live
    state.seed = (state.seed + 1) % 100000;
    send(addr("explore"), state.radius, state.seed);
}

function render() { send(addr("render")); }

function info() { send(addr("info")); }

function ping() { send("/flowsynth/ping", "max"); }

// ---------------------------------------------------------------- target and mapping

function trackDeviceIds() {
    var track = new LiveAPI("this_device canonical_parent");
    return idsOf(track.get("devices"));
}

function deviceNames(ids) {
    var out = [];
    for (var i = 0; i < ids.length; i++) out.push(String(firstOf(new LiveAPI("id " + ids[i]).get("name"))));
    return out;
}

function refresh() {
    if (!liveApi()) return;
    var ids = trackDeviceIds(), me = new LiveAPI("this_device"), names = deviceNames(ids);
    state.targets = ids;
    state.targetChoice = resolveChoice(names, state.targetChoice, state.targetName);
    outlet(5, "targets", "clear");
    outlet(5, "targets", "append", "next device");
    for (var i = 0; i < ids.length; i++) {
        outlet(5, "targets", "append", (i + 1) + " " + names[i] + (Number(ids[i]) === Number(me.id) ? " (this)" : ""));
    }
    outlet(5, "targets", "set", state.targetChoice);
}

// The musician picked a target in the menu: remember it with the set (name and position), map.
function target(choice) {
    choice = Math.max(0, Math.floor(Number(choice)));
    var name = "";
    if (choice > 0 && liveApi()) {
        var ids = trackDeviceIds();
        if (choice <= ids.length) name = String(firstOf(new LiveAPI("id " + ids[choice - 1]).get("name")));
    }
    if (choice === state.targetChoice && name === state.targetName && state.matches.length) return;
    state.targetChoice = choice;
    state.targetName = name;
    outlet(5, "targetsave", choice, name || "-");
    state.mapWanted = true;
    map();
}

// The stored target coming back from the set (pattr, at load): take it without storing again.
function savedtarget(choice) {
    var name = Array.prototype.slice.call(arguments, 1).join(" ");
    choice = Math.max(0, Math.floor(Number(choice)));
    if (!(choice >= 0)) choice = 0;
    if (name === "-") name = "";
    if (choice === state.targetChoice && name === state.targetName) return; // our own store echoing
    state.targetChoice = choice;
    state.targetName = name;
    if (liveApi()) { refresh(); if (state.names.length) map(); }
}

function readTargetParams(deviceId) {
    var dev = new LiveAPI("id " + deviceId), out = [];
    var ids = idsOf(dev.get("parameters"));
    for (var i = 0; i < ids.length; i++) {
        var p = new LiveAPI("id " + ids[i]);
        var items = p.get("value_items") || [];
        out.push({ id: ids[i], name: String(firstOf(p.get("name"))), min: Number(firstOf(p.get("min"))),
                   max: Number(firstOf(p.get("max"))), quantized: Number(firstOf(p.get("is_quantized"))) === 1,
                   items: items });
    }
    return out;
}

function map() {
    state.mapWanted = true; // if it cannot finish now, it finishes when names arrive
    if (!liveApi()) { status("matched", "waiting for Live"); return; }
    if (!state.names.length) { status("matched", "waiting for the model's parameter names..."); info(); return; }
    var ids = trackDeviceIds(), me = new LiveAPI("this_device");
    state.targetChoice = resolveChoice(deviceNames(ids), state.targetChoice, state.targetName);
    var tid = pickTarget(ids, me.id, state.targetChoice);
    release();
    state.matches = [];
    if (!tid) { status("matched", "no target device: put a synth after this device"); return; }
    var params = readTargetParams(tid), pairs = matchNames(state.names, params), i;
    for (i = 0; i < pairs.length; i++) {
        var p = params[pairs[i].target];
        state.matches.push({ model: pairs[i].model, id: p.id, min: p.min, max: p.max, quantized: p.quantized });
    }
    var extra = state.matches.length > N_REMOTES ?
        " (" + (state.matches.length - N_REMOTES) + " past " + N_REMOTES + " follow Explore/sketch only)" : "";
    status("matched", "matched " + state.matches.length + "/" + state.names.length + " in " +
           firstOf(new LiveAPI("id " + tid).get("name")) + extra);
    bind();
}

function bind() {
    for (var k = 0; k < state.matches.length && k < N_REMOTES; k++) outlet(4, k, "id", state.matches[k].id);
    state.bound = true;
}

function release() {
    if (!state.bound) return;
    for (var k = 0; k < N_REMOTES; k++) outlet(4, k, "id", 0);
    state.bound = false;
}

// Continuous changes go through live.remote~ (no undo flood, no automation written); a
// one-shot result (explore, sketch, preset) through the Live API, as one undoable step.
function applyParams(values) {
    var k, m, oneShot = state.oneShotPending;
    state.oneShotPending = false;
    if (!state.matches.length) return;
    if (oneShot) {
        release();
        for (k = 0; k < state.matches.length; k++) {
            m = state.matches[k];
            if (m.model < values.length) new LiveAPI("id " + m.id).set("value", rescale(values[m.model], m));
        }
        return;
    }
    if (!state.bound) bind();
    // Past the live.remote~ boxes a dial move would cost one undo step per parameter and
    // reply (hundreds a second): those parameters follow only the one-shot results above.
    for (k = 0; k < state.matches.length && k < N_REMOTES; k++) {
        m = state.matches[k];
        if (m.model < values.length) outlet(3, k, rescale(values[m.model], m));
    }
}

// The standalone patch drives a [vst~] by parameter index (1-based in vst~), normalized.
function applyVst(values) {
    for (var i = 0; i < values.length; i++) outlet(3, i + 1, values[i]);
}

function followMacros(values) {
    for (var i = 0; i < values.length && i < N_MACROS; i++) {
        state.lastSet[i] = Number(values[i]);
        state.dialValues[i] = Number(values[i]);
        outlet(2, i, "set", Number(values[i]));
    }
}

// ---------------------------------------------------------------- sketch (audio effect)

function withSlash(path) {
    var p = String(path);
    if (p.length && p.charAt(p.length - 1) !== "/" && p.charAt(p.length - 1) !== "\\") p += "/";
    return p;
}

// A folder the musician chose (stored with the set) wins over the server's own sketch folder.
function folder(path) {
    var p = String(path);
    state.folder = (p === "" || p === "0" || p === "-") ? "" : withSlash(p);
    status("status", "takes go to " + (takeDir() || "(no folder yet: start flowsynth serve)"));
}

function takeDir() { return state.folder || state.serverFolder; }

function sketchdir() { send("/flowsynth/sketch_dir"); }

function rec(on) {
    on = Number(on) ? 1 : 0;
    if (on && !takeDir()) {
        status("error", "no sketch folder: start flowsynth serve (it offers one), or choose a folder it allows (--allow-dir)");
        outlet(2, 0, "set", 0);
        if (state.connected) sketchdir();
        return;
    }
    if (on && !state.recording) {
        state.recording = true;
        state.recStart = Date.now();
        outlet(3, "buffer", "sizeinsamps", 0);
        outlet(3, "buffer", "size", MAX_TAKE_MS);
        outlet(3, "record", 1);
        state.recTask = new Task(timeout, this);
        state.recTask.schedule(MAX_TAKE_MS); // record~ stops at the buffer's end; so do we
        status("status", "recording (up to 8 s)");
    } else if (!on && state.recording) {
        stopTake(Date.now() - state.recStart);
    }
}

function stopTake(elapsedMs) {
    state.recording = false;
    if (state.recTask) state.recTask.cancel();
    var ms = Math.max(50, Math.min(MAX_TAKE_MS, Math.round(elapsedMs)));
    outlet(3, "record", 0);
    outlet(2, 0, "set", 0);
    outlet(3, "buffer", "crop", 0, ms);
    state.takeCount += 1;
    var path = takePath(takeDir(), state.slot, state.takeCount);
    state.pendingSketch = path;
    outlet(3, "buffer", "writewav", path);
    // buffer~ writes in the low-priority queue and bangs when done ("written" below); the
    // task only covers a bang that never comes (a write that failed says so in the Max window).
    if (state.writeTask) state.writeTask.cancel();
    state.writeTask = new Task(sendSketch, this);
    state.writeTask.schedule(WRITE_FALLBACK_MS);
}

// buffer~'s right outlet: the file is complete on disk, so the server can read it now.
function written() {
    if (state.writeTask) state.writeTask.cancel();
    sendSketch();
}

function takePath(dir, s, n) { return dir + "flowsynth-sketch-" + s + "-" + (n % 10) + ".wav"; }

function sendSketch() {
    if (!state.pendingSketch) return;
    send(addr("sketch"), state.pendingSketch);
    status("status", "sent " + state.pendingSketch);
    state.pendingSketch = "";
}

function timeout() { if (state.recording) stopTake(MAX_TAKE_MS); }

function play(on) { outlet(3, "play", Number(on) ? 1 : 0); }

// play~ bangs at the end of the take: the Play button goes back to off by itself.
function played() { outlet(2, 1, "set", 0); }

// ---------------------------------------------------------------- replies

function anything() {
    var args = arrayfromargs(arguments);
    if (inlet === 1) reply(messagename, args);
    else status("error", "unknown control " + messagename);
}

function reply(address, args) {
    var parts = String(address).split("/");  // ["", "flowsynth", "1", "params"]
    if (parts[1] !== "flowsynth") return;
    state.awaiting = false;
    if (parts.length === 3) return serverReply(parts[2], args);
    if (Number(parts[2]) !== state.slot) return;
    var verb = parts[3];
    if (role === "test") { status("status", address + " " + args.join(" ")); return; }
    if (verb === "params") {
        if (role === "patch") applyVst(args); else if (role === "macros") applyParams(args);
    } else if (verb === "macros") {
        if (role !== "sketch") followMacros(args);
    } else if (verb === "names") {
        state.names = args.map(String);
        // A reopened set, a restarted server, a new model, a Map pressed too early: map now.
        if (role === "macros" && (state.mapWanted || state.matches.length)) map();
    } else if (verb === "macro_names") {
        state.macroNames = args.map(String);
        renameDials(state.macroNames);
    } else if (verb === "info") {
        state.model = String(args[0]);
        status("model", "model " + args[0] + " (" + args[1] + ", " + args[2] + " params)");
        markModel();
    } else if (verb === "busy") {
        state.busy = Number(args[0]) === 1;
        if (state.busy) state.oneShotPending = true; // a sketch's result is one undoable step
        status("busy", state.busy ? 1 : 0);
        status("status", state.busy ? "listening to the sketch..." : "ready");
    } else if (verb === "sketch_note") {
        status("note", noteText(args));
    } else if (verb === "rendered") {
        status("status", "rendered " + args[0]);
        if (role === "sketch" || role === "patch") outlet(3, "audition", "open", String(args[0]));
    } else if (verb === "anchor") {
        status("status", "anchor " + args[0] + " stored");
    }
}

function serverReply(verb, args) {
    if (verb === "welcome") {
        var first = !state.connected;
        state.connected = true;
        status("status", "connected (protocol " + args[0] + ", server " + args[1] + ")");
        schedule(HELLO_SLOW_MS);
        if (first && role !== "sketch") { info(); if (role !== "test") models(); }
        if (first && role === "sketch") sketchdir();
    } else if (verb === "error") {
        if (Number(args[0]) !== 0 && Number(args[0]) !== state.slot) return;
        status("error", args[1] + ": " + args.slice(2).join(" "));
        if (args[1] === "no_model") state.oneShotPending = false;
    } else if (verb === "models" && role !== "test") {
        showModels(args);
    } else if (verb === "sketch_dir") {
        state.serverFolder = args.length ? withSlash(args[0]) : "";
        if (role === "sketch") status("status", "takes go to " + (takeDir() || "(the server offers no folder)"));
    } else if (role === "test") {
        status("status", "/flowsynth/" + verb + " " + args.join(" "));
    }
}

// What the musician sees of a macro's name. The long names stay "Macro 1".."Macro 8": Live
// lists them in the automation chooser and MIDI map, the Push bank refers to them by that
// name, and they must stay unique; automation itself follows the parameter, not its name.
// So only the dial's label (short name) and its Info View title take the model's names.
function renameDials(names) {
    for (var i = 0; i < names.length && i < N_MACROS; i++) {
        var label = String(names[i]);
        outlet(2, i, "_parameter_shortname", label.slice(0, 16));
        outlet(2, i, "annotation_name", "Macro " + (i + 1) + ": " + label);
    }
}

// ---------------------------------------------------------------- node tests reach in here

if (typeof module !== "undefined" && module.exports) {
    module.exports = {
        autoReplyPort: autoReplyPort, matchNames: matchNames, rescale: rescale, pickTarget: pickTarget,
        idsOf: idsOf, takePath: takePath, looseName: looseName, resolveChoice: resolveChoice,
        N_REMOTES: N_REMOTES,
        getState: function () { return state; }, reset: function () { state = newState(); }
    };
}
