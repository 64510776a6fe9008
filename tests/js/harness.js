// Loads m4l_devices/flowsynth.js the way Max's [js] would, with stand-ins for Max's globals:
// outlet(), post(), Task, arrayfromargs, jsarguments, inlet/messagename, and a LiveAPI over
// a small fake Live set (a track holding this device and a synth).
"use strict";
var fs = require("fs");
var path = require("path");
var vm = require("vm");

var SOURCE = path.join(__dirname, "..", "..", "m4l_devices", "flowsynth.js");

function fakeSet(synthParams) {
    // ids: 1 track, 10 this device, 20 the synth, 21.. its parameters, 30 a later effect
    var objects = { 10: { name: "FlowSynth Macros", parameters: [] },
                    20: { name: "Diva", parameters: [] },
                    30: { name: "Reverb", parameters: [] } };
    synthParams.forEach(function (p, i) {
        objects[21 + i] = Object.assign({ min: 0, max: 1, is_quantized: 0, value_items: [], value: 0 }, p);
        objects[20].parameters.push(21 + i);
    });
    return { objects: objects, devices: [10, 20, 30], sets: [] };
}

function load(role, live) {
    var out = [];
    var tasks = [];
    function Task(fn, ctx) { this.fn = fn; this.interval = 0; this.cancelled = false; tasks.push(this); }
    Task.prototype.repeat = function () { this.repeating = true; };
    Task.prototype.schedule = function (ms) { this.delay = ms; };
    Task.prototype.cancel = function () { this.cancelled = true; };
    // Max's LiveAPI gives .id as a string ("10"), while id lists hold numbers: the stand-in
    // does the same, so that a comparison of the two without Number() fails here too.
    function LiveAPI(p) {
        this.path = p;
        if (p === "this_device") this.id = String(live.me || 10);
        else if (p === "this_device canonical_parent") this.id = "1";
        else this.id = String(Number(String(p).replace("id ", "")));
    }
    LiveAPI.prototype.get = function (prop) {
        if (this.id === "1" && prop === "devices") {
            var l = []; live.devices.forEach(function (d) { l.push("id", d); }); return l;
        }
        var o = live.objects[this.id];
        if (prop === "parameters") { var r = []; o.parameters.forEach(function (d) { r.push("id", d); }); return r; }
        var v = o[prop];
        return Array.isArray(v) ? v : [v];
    };
    LiveAPI.prototype.set = function (prop, value) {
        live.sets.push([Number(this.id), prop, value]);
        live.objects[this.id][prop] = value;
    };
    var ctx = {
        jsarguments: ["flowsynth.js", role], post: function () {}, Task: Task,
        LiveAPI: live ? LiveAPI : undefined,
        outlet: function () { out.push(Array.prototype.slice.call(arguments)); },
        arrayfromargs: function (a) { return Array.prototype.slice.call(a); },
        module: { exports: {} }, Date: Date, Math: Math, inlet: 0, messagename: ""
    };
    vm.createContext(ctx);
    vm.runInContext(fs.readFileSync(SOURCE, "utf8"), ctx, { filename: SOURCE });
    return {
        ctx: ctx, out: out, tasks: tasks, api: ctx.module.exports,
        call: function (name) { ctx.inlet = 0; return ctx[name].apply(null, Array.prototype.slice.call(arguments, 1)); },
        osc: function (address) {  // a reply arriving from [udpreceive] on inlet 1
            ctx.inlet = 1; ctx.messagename = address;
            ctx.anything.apply(null, Array.prototype.slice.call(arguments, 1));
            ctx.inlet = 0;
        },
        // the messages sent so far on outlet n (all outlets without n), removing them; plain
        // JSON copies, so that arrays made inside the vm compare with the tests' own
        take: function (n) {
            var keep = [], r = [];
            out.forEach(function (m) { (n === undefined || m[0] === n ? r : keep).push(m); });
            out.length = 0; Array.prototype.push.apply(out, keep);
            return JSON.parse(JSON.stringify(r));
        },
        plain: function (x) { return JSON.parse(JSON.stringify(x)); }
    };
}

module.exports = { load: load, fakeSet: fakeSet };
