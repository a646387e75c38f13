/* xmtag interactive report: the mixing desk. Reads the JSON in .xm-data (see xmtag/_report_data.py)
 * and drives the markup of desk.html.j2. No network, no libraries: Web Audio for playback (every stem
 * is started at the same AudioContext time and muted by its own GainNode, so mute and solo switch
 * every stem on the same sample), SVG and canvas for the drawings. Hand-written because the page must
 * work from file:// with nothing to download; it is small enough to read in one sitting. */
(function () {
  "use strict";
  if (window.XmtagReport) { window.XmtagReport.mountAll(); return; }
  var SVGNS = "http://www.w3.org/2000/svg";
  var POS = "#e0004d", NEG = "#0077d9";

  function bytes(b64) {
    var bin = atob(b64), u = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    return u;
  }
  function unpack(p) { return p ? new Float32Array(bytes(p.b64).buffer) : null; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function clip(text, px) {  // fit a label into px pixels of 12-px text (about 6.6 px a character)
    var k = Math.max(3, Math.floor(px / 6.6));
    return text.length > k ? text.slice(0, k - 1) + "\u2026" : text;
  }
  function fmt(x) { return x === null ? "n/a" : x.toFixed(3); }
  function sfmt(x) { return (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(3); }
  function clock(t) {
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function mix(a, b, w) { return Math.round(a + (b - a) * w); }
  function color(v, vmax) {
    var w = vmax > 0 ? Math.min(Math.abs(v) / vmax, 1) : 0;
    var c = v >= 0 ? [224, 0, 77] : [0, 119, 217];
    return "rgb(" + mix(255, c[0], w) + "," + mix(255, c[1], w) + "," + mix(255, c[2], w) + ")";
  }

  function mount(root) {
    if (root.__xm) return root.__xm;
    var D = JSON.parse(root.querySelector("script.xm-data").textContent);
    var n = D.stems.length, T = D.labels.length, FULL = (1 << n) - 1;
    var V = unpack(D.values), SE = unpack(D.stderr), BASE = unpack(D.base), PRED = unpack(D.prediction);
    var C = unpack(D.coalitions);
    var seg = D.segments, K = seg ? seg.bounds.length : 0;
    var SV = seg ? unpack(seg.values) : null, SC = seg ? unpack(seg.coalitions) : null;
    var dur = D.duration || (K ? seg.bounds[K - 1][1] : 0) || 1;
    // a capped page embeds only the first part of each stem: playback stops where its audio ends
    var audioEnd = D.audio && D.audio.capped ? Math.min(D.audio.seconds, dur) : dur;
    var q = function (s) { return root.querySelector(s); };
    var st = { muted: [], solo: [], tag: D.selected, stem: 0, pos: 0, playing: false, loop: null };
    for (var i = 0; i < n; i++) { st.muted.push(false); st.solo.push(false); }
    var A = { ctx: null, buffers: null, sources: [], gains: [], meters: [], t0: 0, p0: 0, ready: false };

    // -- the game -------------------------------------------------------------------------------
    function mask() {
      var anySolo = st.solo.some(Boolean), m = 0;
      for (var i = 0; i < n; i++) if (anySolo ? st.solo[i] : !st.muted[i]) m |= 1 << i;
      return m;
    }
    function value(m, j) {
      if (C) return C[m * T + j];
      if (m === FULL) return PRED[j];
      if (m === 0) return BASE[j];
      return null;
    }
    function segValue(m, k, j) { return SC ? SC[(m * K + k) * T + j] : null; }
    function segAt(t) {
      for (var k = 0; k < K; k++) if (t < seg.bounds[k][1]) return k;
      return K - 1;
    }
    function mixName(m) {
      if (m === FULL) return "the full mix";
      if (m === 0) return "silence (no stem)";
      var on = [], off = [];
      for (var i = 0; i < n; i++) (m >> i & 1 ? on : off).push(D.stems[i]);
      if (n > 3 && off.length < on.length) return "the full mix without " + off.join(" and ");
      return on.join(" + ");
    }
    function shownTags() {
      var tags = D.shown.slice();
      if (tags.indexOf(st.tag) < 0) tags.push(st.tag);
      return tags;
    }
    var scale = (function () {  // one axis for every bar: [0, 1] for probabilities
      var lo = 0, hi = D.units === "probability" ? 1 : 0;
      function see(x) { if (x !== null && isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); } }
      for (var j = 0; j < T; j++) { see(BASE[j]); see(PRED[j]); }
      if (C) for (var c = 0; c < C.length; c++) see(C[c]);
      if (SC) for (var s = 0; s < SC.length; s++) see(SC[s]);
      if (hi <= lo) hi = lo + 1;
      return function (x) { return 100 * (x - lo) / (hi - lo); };
    })();

    // -- audio ----------------------------------------------------------------------------------
    var playBtn = q(".xm-play");
    function decode() {
      if (!D.audio) return;
      var Off = window.OfflineAudioContext || window.webkitOfflineAudioContext;
      if (!Off) { note("This browser has no Web Audio API: the desk works without sound."); return; }
      var off = new Off(2, 1, D.audio.sr);
      playBtn.disabled = true;
      playBtn.textContent = "decoding\u2026";
      Promise.all(D.audio.stems.map(function (s) { return off.decodeAudioData(bytes(s.b64).buffer); }))
        .then(function (bufs) {
          A.buffers = bufs;
          A.ready = true;
          playBtn.disabled = false;
          showPlay();
        })
        .catch(function (err) {
          playBtn.textContent = "no audio";
          note("This browser could not decode the embedded " + D.audio.codec + " audio (" + err + ").");
        });
    }
    function note(text) {
      var p = q(".xm-audio-note");
      if (!p) { p = el("p", "xm-note xm-audio-note"); q(".xm-bar").after(p); }
      p.textContent = text;
    }
    function ensureContext() {
      if (A.ctx) return A.ctx;
      var Ctx = window.AudioContext || window.webkitAudioContext;
      A.ctx = new Ctx();
      var m = mask();
      for (var i = 0; i < n; i++) {
        var g = A.ctx.createGain(), an = A.ctx.createAnalyser();
        an.fftSize = 1024;
        g.gain.value = m >> i & 1;
        g.connect(an);
        an.connect(A.ctx.destination);
        A.gains.push(g);
        A.meters.push({ node: an, buf: new Float32Array(an.fftSize) });
      }
      return A.ctx;
    }
    function applyGains() {
      if (!A.ctx) return;
      var m = mask(), t = A.ctx.currentTime;
      for (var i = 0; i < n; i++) {  // the same 5-ms ramp on every stem: no click, same samples
        var g = A.gains[i].gain;
        g.cancelScheduledValues(t);
        g.setValueAtTime(g.value, t);
        g.linearRampToValueAtTime(m >> i & 1, t + 0.005);
      }
    }
    function elapsed() {  // the audio clock; a wall clock where the browser gives no audio output
      if (A.ctx.state === "running" && A.ctx.currentTime > 0) return A.ctx.currentTime - A.t0;
      if (!A.silent && performance.now() - A.w0 > 1500) {
        A.silent = true;
        note("The browser has not started audio output (no sound device, or blocked): the playhead " +
          "runs on the clock, without sound.");
      }
      return (performance.now() - A.w0) / 1000 - 0.06;
    }
    function position() {
      if (!st.playing) return st.pos;
      var p = A.p0 + Math.max(0, elapsed());
      if (st.loop && p >= st.loop[1]) p = st.loop[0] + (p - st.loop[0]) % (st.loop[1] - st.loop[0]);
      return p;
    }
    function start() {
      if (!A.ready) return;
      var ctx = ensureContext();
      if (ctx.state === "suspended") ctx.resume();
      if (st.loop && (st.pos < st.loop[0] || st.pos >= st.loop[1])) st.pos = st.loop[0];
      if (st.pos >= dur - 0.01) st.pos = 0;
      if (st.pos >= audioEnd - 0.01) {
        note("No audio after " + clock(audioEnd) + " on this page. " + D.audio_note);
        return;
      }
      var t0 = ctx.currentTime + 0.06;
      A.sources = A.buffers.map(function (buf, i) {
        var src = ctx.createBufferSource();
        src.buffer = buf;
        if (st.loop) { src.loop = true; src.loopStart = st.loop[0]; src.loopEnd = st.loop[1]; }
        src.connect(A.gains[i]);
        src.start(t0, st.pos);
        return src;
      });
      A.t0 = t0;
      A.w0 = performance.now();
      A.p0 = st.pos;
      st.playing = true;
      showPlay();
      requestAnimationFrame(tick);
    }
    function stop() {
      if (!st.playing) return;
      st.pos = Math.min(position(), dur);
      st.playing = false;
      A.sources.forEach(function (s) { try { s.stop(); } catch (e) { /* already ended */ } });
      A.sources = [];
      showPlay();
      frame();
    }
    function toggle() { if (st.playing) stop(); else start(); }
    function seek(t) {
      var playing = st.playing;
      if (playing) stop();
      st.pos = Math.max(0, Math.min(t, dur));
      if (playing) start(); else frame();
    }
    function showPlay() {
      if (!A.ready) return;
      playBtn.textContent = st.playing ? "\u2016 Pause" : "\u25B6 Play";
      playBtn.setAttribute("aria-pressed", st.playing ? "true" : "false");
      playBtn.setAttribute("aria-label", st.playing ? "Pause (space)" : "Play (space)");
    }
    function tick() {
      if (!st.playing) return;
      if (!st.loop && position() >= audioEnd) { stop(); st.pos = 0; frame(); return; }
      frame();
      requestAnimationFrame(tick);
    }

    // -- channel strips -------------------------------------------------------------------------
    var strips = Array.prototype.slice.call(root.querySelectorAll(".xm-strip"));
    strips.forEach(function (s, i) {
      s.querySelector(".xm-mute").addEventListener("click", function () { pick(i); setMute(i, !st.muted[i]); });
      s.querySelector(".xm-solo").addEventListener("click", function () { pick(i); setSolo(i, !st.solo[i]); });
      s.querySelector(".xm-strip-name").addEventListener("click", function () { pick(i); update(); });
    });
    function pick(i) { st.stem = i; }
    function setMute(i, on) { st.muted[i] = on; changed(); }
    function setSolo(i, on) { st.solo[i] = on; changed(); }
    function toggleStem(i) {  // add or remove a stem from what you hear
      pick(i);
      if (st.solo.some(Boolean)) st.solo[i] = !st.solo[i]; else st.muted[i] = !st.muted[i];
      changed();
    }
    function setMask(m) {
      for (var i = 0; i < n; i++) { st.muted[i] = !(m >> i & 1); st.solo[i] = false; }
      changed();
    }
    function changed() { applyGains(); update(); }
    function drawStrips() {
      var j = st.tag, m = mask(), vmax = 1e-12;
      for (var i = 0; i < n; i++) {
        var e = SE ? D.z * SE[i * T + j] : 0;
        vmax = Math.max(vmax, Math.abs(V[i * T + j]) + e);
      }
      strips.forEach(function (s, i) {
        var v = V[i * T + j], e = SE ? D.z * SE[i * T + j] : 0;
        var text = sfmt(v) + (SE ? " \u00B1 " + e.toFixed(3) : "");
        s.querySelector(".xm-shap-num").textContent = text;
        s.querySelector(".xm-shap").setAttribute("aria-label", D.stems[i] + ": " + D.value_name + " " + text +
          " for " + D.labels[j] + (SE ? " (" + D.interval_label + ")" : ""));
        var bar = s.querySelector(".xm-shap-bar"), w = 50 * Math.abs(v) / vmax;
        bar.style.left = (v >= 0 ? 50 : 50 - w) + "%";
        bar.style.width = w + "%";
        bar.style.background = v >= 0 ? POS : NEG;
        var ci = s.querySelector(".xm-shap-ci");
        ci.hidden = !SE;
        if (SE) { ci.style.left = (50 + 50 * (v - e) / vmax) + "%"; ci.style.width = (100 * e / vmax) + "%"; }
        s.classList.toggle("xm-off", !(m >> i & 1));
        s.classList.toggle("xm-sel", i === st.stem);
        var mb = s.querySelector(".xm-mute"), sb = s.querySelector(".xm-solo");
        mb.setAttribute("aria-pressed", st.muted[i] ? "true" : "false");
        sb.setAttribute("aria-pressed", st.solo[i] ? "true" : "false");
      });
    }
    function drawMeters() {
      strips.forEach(function (s, i) {
        var level = 0;
        if (st.playing && A.meters[i]) {
          var mt = A.meters[i], sum = 0;
          mt.node.getFloatTimeDomainData(mt.buf);
          for (var k = 0; k < mt.buf.length; k++) sum += mt.buf[k] * mt.buf[k];
          var db = 10 * Math.log10(sum / mt.buf.length + 1e-12);
          level = Math.max(0, Math.min(1, (db + 60) / 60));
        }
        var box = s.querySelector(".xm-meter");
        box.firstChild.style.height = (100 * level) + "%";
        box.setAttribute("aria-valuenow", String(Math.round(100 * level)));
      });
    }

    // -- scores of the current mix ---------------------------------------------------------------
    var rows = q(".xm-rows");
    function drawScores() {
      var m = mask(), p = position(), k = K ? segAt(p) : -1;
      q(".xm-mix").textContent = mixName(m);
      root.setAttribute("data-mask", String(m));
      rows.textContent = "";
      var head = [el("span", "xm-head", "tag"), el("span", "xm-head", K && SC ?
        "this mix: whole clip, and segment " + (k + 1) + " of " + K + " at the playhead" : "this mix"),
        el("span", "xm-head xm-num", "score"), el("span", "xm-head xm-num xm-ref", "full mix"),
        el("span", "xm-head xm-num xm-ref", "silence")];
      head.forEach(function (h) { rows.appendChild(h); });
      var missing = false;
      shownTags().forEach(function (j) {
        var b = el("button", "xm-tagbtn" + (j === st.tag ? " xm-cur" : ""), D.labels[j]);
        b.type = "button";
        b.setAttribute("aria-label", "Select tag " + D.labels[j]);
        b.addEventListener("click", function () { selectTag(j); });
        rows.appendChild(b);
        var x = value(m, j), cell = el("div");
        cell.appendChild(track(x, PRED[j], BASE[j], "", D.labels[j] + " for " + mixName(m)));
        if (SC) cell.appendChild(track(segValue(m, k, j), segValue(FULL, k, j), segValue(0, k, j), " xm-seg",
          D.labels[j] + " in segment " + (k + 1)));
        rows.appendChild(cell);
        var num = el("span", "xm-num xm-score" + (x === null ? " xm-na" : ""), fmt(x));
        num.setAttribute("data-tag", D.labels[j]);
        num.setAttribute("data-value", x === null ? "" : String(x));
        num.title = "full mix " + fmt(PRED[j]) + ", silence " + fmt(BASE[j]);
        if (SC) {
          var sx = segValue(m, k, j), sn = el("span", "xm-segscore", " " + fmt(sx));
          sn.setAttribute("data-value", String(sx));
          sn.title = "segment " + (k + 1) + " at the playhead";
          num.appendChild(el("br"));
          num.appendChild(sn);
        }
        rows.appendChild(num);
        var refs = [[PRED[j], SC ? segValue(FULL, k, j) : null], [BASE[j], SC ? segValue(0, k, j) : null]];
        refs.forEach(function (r) {  // the full mix and silence beside it (whole clip; segment)
          var c = el("span", "xm-num xm-ref", fmt(r[0]));
          if (r[1] !== null) { c.appendChild(el("br")); c.appendChild(el("span", "xm-segscore", fmt(r[1]))); }
          rows.appendChild(c);
        });
        if (x === null) missing = true;
      });
      var un = q(".xm-unavail");
      un.hidden = !missing;
      if (missing) {
        un.textContent = "Not available for " + mixName(m) + ": this explanation was estimated with the " +
          D.method + " method, which did not score every mix of the stems. Only the full mix and " +
          "silence have scores here; re-run with method=\"exact\" to see every mix.";
      }
      drawListen();
    }
    function track(x, full, sil, extra, label) {
      var t = el("div", "xm-track" + extra);
      t.setAttribute("role", "img");
      t.setAttribute("aria-label", label + ": " + fmt(x) + " (full mix " + fmt(full) + ", silence " + fmt(sil) + ")");
      if (x !== null) { var f = el("div", "xm-fill"); f.style.width = scale(x) + "%"; t.appendChild(f); }
      if (full !== null) { var a = el("div", "xm-tick xm-full"); a.style.left = scale(full) + "%"; t.appendChild(a); }
      if (sil !== null) { var s = el("div", "xm-tick xm-sil"); s.style.left = scale(sil) + "%"; t.appendChild(s); }
      return t;
    }
    function drawListen() {
      var box = q(".xm-listen"), L = D.listen[String(st.tag)];
      box.textContent = "";
      if (!L) return;
      var b = el("button", "xm-hear", "Hear it");
      b.type = "button";
      b.setAttribute("aria-label", "Listen to the smallest mix keeping " + D.labels[st.tag]);
      b.addEventListener("click", function () { setMask(L.mask); });
      // "at least X % of the gain" and the share actually kept (which can pass 100 %: a mix
      // without some stems may score higher than the full mix)
      box.appendChild(el("span", "", "Fewest stems that keep at least " + Math.round(100 * D.share) + "% of " +
        D.labels[st.tag] + "'s gain over silence: " + mixName(L.mask) + " (scores " + fmt(L.value) + ", " +
        Math.round(100 * L.kept) + "% of the full mix's gain) "));
      box.appendChild(b);
    }

    // -- the selected tag: waterfall and time view -------------------------------------------------
    function width(svg) { return Math.max(260, svg.getBoundingClientRect().width || 480); }
    function drawWaterfall() {
      var svg = q(".xm-waterfall"), j = st.tag, W = width(svg), rh = 24, lab = 112, num = 96;
      svg.textContent = "";
      var steps = [], cum = BASE[j], lo = Math.min(0, cum), hi = Math.max(0, cum);
      for (var i = 0; i < n; i++) {
        var v = V[i * T + j], e = SE ? D.z * SE[i * T + j] : 0;
        steps.push({ name: D.stems[i], a: cum, b: cum + v, v: v, e: e });
        cum += v;
        lo = Math.min(lo, cum - e); hi = Math.max(hi, cum + e);
      }
      var gap = PRED[j] - cum;  // 0 for the efficient methods; Banzhaf, LIME, LOO need not add up
      var rest = Math.abs(gap) > 1e-6 * Math.max(1, Math.abs(PRED[j]));
      lo = Math.min(lo, PRED[j]); hi = Math.max(hi, PRED[j]);
      if (hi <= lo) hi = lo + 1;
      var x = function (t) { return lab + (W - lab - num) * (t - lo) / (hi - lo); };
      var H = rh * (n + 2 + (rest ? 1 : 0)) + 8;
      svg.setAttribute("height", H);
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("aria-label", "Waterfall for " + D.labels[j] + ": silence " + fmt(BASE[j]) +
        steps.map(function (s) { return ", " + s.name + " " + sfmt(s.v); }).join("") + ", full mix " + fmt(PRED[j]));
      sv("line", { x1: x(0), x2: x(0), y1: 0, y2: H, stroke: "#bbb" }, svg);
      function row(r, name, a, b, fill, text, e) {
        var y = 4 + r * rh;
        var label = sv("text", { x: 0, y: y + 16 }, svg);
        label.textContent = clip(name, lab - 6);
        if (label.textContent !== name) sv("title", {}, label).textContent = name;
        sv("rect", { x: Math.min(x(a), x(b)), y: y + 3, width: Math.max(1, Math.abs(x(b) - x(a))), height: rh - 8,
          fill: fill, rx: 2 }, svg);
        if (e) sv("line", { x1: x(b - e), x2: x(b + e), y1: y + rh / 2 - 1, y2: y + rh / 2 - 1, stroke: "#222",
          "stroke-width": 1.5 }, svg);
        sv("text", { x: W - num + 6, y: y + 16 }, svg).textContent = text;
      }
      row(0, "silence", lo > 0 ? lo : 0, BASE[j], "#8e8e99", fmt(BASE[j]));
      steps.forEach(function (s, i) {
        row(i + 1, s.name, s.a, s.b, s.v >= 0 ? POS : NEG, sfmt(s.v) + (SE ? " \u00B1" + s.e.toFixed(3) : ""), s.e);
      });
      if (rest) {
        row(n + 1, "not attributed", cum, PRED[j], "#ffffff", sfmt(gap));
        svg.lastChild.previousSibling.setAttribute("stroke", "#8e8e99");
        svg.lastChild.previousSibling.setAttribute("stroke-dasharray", "3 2");
      }
      row(n + 1 + (rest ? 1 : 0), "full mix", lo > 0 ? lo : 0, PRED[j], "#23232b", fmt(PRED[j]));
      var iv = q(".xm-interval-note");
      iv.hidden = !SE;
      if (SE) iv.textContent = "Estimated by the " + D.method + " method" + (D.budget ? " from " + D.budget +
        " tagger rows" : "") + ": bars show the " + D.interval_label + " (\u00B1 " + D.z.toFixed(2) +
        " standard errors).";
    }
    function drawTimeView() {
      var svg = q(".xm-timeview"), j = st.tag, tn = q(".xm-time-note");
      svg.textContent = "";
      if (!K) {
        svg.setAttribute("height", 0);
        tn.hidden = false;
        tn.textContent = "No time segments were computed: explain with segments=8 (or --segments 8) for " +
          "a time-resolved view at no extra tagger cost.";
        return;
      }
      var W = width(svg), lab = 92, rh = 22, rows = (SC ? 1 : 0) + (SV ? n : 0), H = rh * rows + 20;
      var x = function (t) { return lab + (W - lab) * t / dur; };
      svg.setAttribute("height", H);
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      var vmax = 1e-12, m = mask(), k, i;
      if (SV) for (i = 0; i < n; i++) for (k = 0; k < K; k++) vmax = Math.max(vmax, Math.abs(SV[(i * K + k) * T + j]));
      var r = 0;
      if (SC) {
        sv("text", { x: 0, y: 15 }, svg).textContent = "this mix";
        var top = 1e-12;  // this row's own scale: the largest segment score of this tag over all mixes
        for (var c0 = 0; c0 <= FULL; c0++) for (k = 0; k < K; k++) top = Math.max(top, segValue(c0, k, j));
        for (k = 0; k < K; k++) {
          var b = seg.bounds[k], val = segValue(m, k, j), h = (rh - 4) * Math.max(0, Math.min(1, val / top));
          var c = sv("rect", { x: x(b[0]) + 1, y: rh - 2 - h, width: Math.max(1, x(b[1]) - x(b[0]) - 2), height: h,
            fill: "#565663", "class": "xm-cell", "data-segment": k }, svg);
          sv("title", {}, c).textContent = mixName(m) + ", segment " + (k + 1) + ": " + fmt(val);
        }
        r = 1;
      }
      if (SV) for (i = 0; i < n; i++, r++) {
        sv("text", { x: 0, y: r * rh + 15 }, svg).textContent = clip(D.stems[i], lab - 6);
        for (k = 0; k < K; k++) {
          var bb = seg.bounds[k], v = SV[(i * K + k) * T + j];
          var cell = sv("rect", { x: x(bb[0]) + 1, y: r * rh + 1, width: Math.max(1, x(bb[1]) - x(bb[0]) - 2),
            height: rh - 2, fill: color(v, vmax), "class": "xm-cell", "data-segment": k }, svg);
          sv("title", {}, cell).textContent = D.stems[i] + ", " + bb[0].toFixed(1) + "\u2013" + bb[1].toFixed(1) +
            " s: " + sfmt(v);
        }
      }
      var every = Math.max(1, Math.ceil(36 / ((W - lab) / Math.max(1, K))));  // keep labels apart
      for (k = 0; k <= K; k++) {
        if (k % every && k !== K) continue;
        if (k === K && K % every) continue;
        var tt = k < K ? seg.bounds[k][0] : seg.bounds[K - 1][1];
        sv("text", { x: x(tt), y: H - 4, "text-anchor": k === 0 ? "start" : k === K ? "end" : "middle",
          fill: "#6b6b78" }, svg).textContent = tt.toFixed(0) + " s";
      }
      sv("line", { "class": "xm-tv-head", x1: x(position()), x2: x(position()), y1: 0, y2: H - 16,
        stroke: "#e74c3c", "stroke-width": 2 }, svg);
      svg.setAttribute("aria-label", "Time-resolved view of " + D.labels[j] + ": " + K + " segments; red adds to the " +
        "tag, blue takes away. Click a segment to play from there.");
      tn.hidden = !!SV;
      if (!SV) tn.textContent = "Per-segment values are not in this explanation.";
      svg.onclick = function (ev) {
        var s = ev.target.getAttribute && ev.target.getAttribute("data-segment");
        if (s !== null && s !== undefined) seek(seg.bounds[+s][0]);
      };
    }

    // -- timeline --------------------------------------------------------------------------------
    var wrap = q(".xm-wave-wrap"), canvas = q(".xm-wave"), head = q(".xm-playhead"), band = q(".xm-loopband");
    function drawWave() {
      var w = Math.max(1, wrap.clientWidth), h = Math.max(1, wrap.clientHeight), dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      var g = canvas.getContext("2d");
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, h);
      if (K) {
        for (var k = 0; k < K; k++) {
          var a = seg.bounds[k][0] / dur * w, b = seg.bounds[k][1] / dur * w;
          g.fillStyle = k % 2 ? "rgba(0,0,0,0.035)" : "rgba(0,0,0,0)";
          g.fillRect(a, 0, b - a, h);
          g.fillStyle = "#8e8e99";
          g.font = "10px system-ui, sans-serif";
          g.fillText(String(k + 1), a + 3, 11);
        }
      }
      if (!D.envelope) {
        g.fillStyle = "#8e8e99";
        g.font = "12px system-ui, sans-serif";
        g.fillText("no waveform in this explanation: click to move the playhead", 8, h / 2 + 4);
        return;
      }
      var lo = unpack(D.envelope.min), hi = unpack(D.envelope.max), rate = D.envelope.rate, peak = 1e-9;
      for (var f = 0; f < hi.length; f++) peak = Math.max(peak, Math.abs(lo[f]), Math.abs(hi[f]));
      g.fillStyle = "#565663";
      var mid = h / 2, amp = (h / 2 - 6) / peak;
      for (var x = 0; x < w; x++) {
        var f0 = Math.floor(x / w * dur * rate), f1 = Math.max(f0 + 1, Math.floor((x + 1) / w * dur * rate));
        var mn = 0, mx = 0;
        for (var ff = f0; ff < f1 && ff < hi.length; ff++) { mn = Math.min(mn, lo[ff]); mx = Math.max(mx, hi[ff]); }
        g.fillRect(x, mid - mx * amp, 1, Math.max(1, (mx - mn) * amp));
      }
    }
    function drawHead() {
      var p = position(), w = wrap.clientWidth;
      head.style.left = (p / dur * w - 1) + "px";
      head.setAttribute("data-time", p.toFixed(3));
      wrap.setAttribute("aria-valuenow", p.toFixed(1));
      wrap.setAttribute("aria-valuetext", p.toFixed(1) + " s of " + dur.toFixed(1) + " s");
      q(".xm-time").textContent = D.duration ? clock(p) + " / " + clock(dur) : "no timeline";
      band.hidden = !st.loop;
      if (st.loop) {
        band.style.left = (st.loop[0] / dur * w) + "px";
        band.style.width = ((st.loop[1] - st.loop[0]) / dur * w) + "px";
      }
      var line = root.querySelector(".xm-tv-head");
      if (line) {
        var svg = q(".xm-timeview"), W = width(svg), X = 92 + (W - 92) * p / dur;
        line.setAttribute("x1", X);
        line.setAttribute("x2", X);
      }
    }
    var drag = null;
    function timeAt(ev) {
      var r = wrap.getBoundingClientRect();
      return Math.max(0, Math.min(dur, (ev.clientX - r.left) / Math.max(1, r.width) * dur));
    }
    wrap.addEventListener("pointerdown", function (ev) {
      drag = { x: ev.clientX, t: timeAt(ev), moved: false };
      if (wrap.setPointerCapture) try { wrap.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic */ }
    });
    wrap.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      if (Math.abs(ev.clientX - drag.x) > 4) drag.moved = true;
      if (drag.moved) {
        var a = Math.min(drag.t, timeAt(ev)), b = Math.max(drag.t, timeAt(ev));
        band.hidden = false;
        band.style.left = (a / dur * wrap.clientWidth) + "px";
        band.style.width = ((b - a) / dur * wrap.clientWidth) + "px";
      }
    });
    wrap.addEventListener("pointerup", function (ev) {
      if (!drag) return;
      var d = drag;
      drag = null;
      if (d.moved) {
        var a = Math.min(d.t, timeAt(ev)), b = Math.max(d.t, timeAt(ev));
        if (b - a > 0.1) { setLoop([a, b]); seek(a); return; }
      }
      seek(timeAt(ev));
    });
    wrap.addEventListener("keydown", function (ev) {
      var step = { ArrowLeft: -1, ArrowRight: 1, PageDown: -5, PageUp: 5 }[ev.key];
      if (step) { ev.preventDefault(); seek(position() + step); }
      if (ev.key === "Home") { ev.preventDefault(); seek(0); }
      if (ev.key === "End") { ev.preventDefault(); seek(dur); }
    });
    function setLoop(range) {
      var playing = st.playing;
      if (playing) stop();
      st.loop = range;
      var lb = q(".xm-loop");
      lb.setAttribute("aria-pressed", range ? "true" : "false");
      if (playing) start(); else frame();
    }
    function toggleLoop() {
      if (st.loop) { setLoop(null); return; }
      if (K) { var k = segAt(position()); setLoop([seg.bounds[k][0], seg.bounds[k][1]]); } else setLoop([0, dur]);
    }
    q(".xm-loop").addEventListener("click", toggleLoop);
    q(".xm-all").addEventListener("click", function () { setMask(FULL); });
    playBtn.addEventListener("click", toggle);

    // -- tag picker ------------------------------------------------------------------------------
    var search = q(".xm-search"), list = q(".xm-list"), active = -1, matches = [];
    var byPred = D.labels.map(function (_, j) { return j; }).sort(function (a, b) { return PRED[b] - PRED[a]; });
    function filter() {
      var text = search.value.trim().toLowerCase();
      matches = byPred.filter(function (j) { return D.labels[j].toLowerCase().indexOf(text) >= 0; }).slice(0, 80);
      active = matches.length ? 0 : -1;
      renderList();
    }
    function renderList() {
      list.textContent = "";
      matches.forEach(function (j, r) {
        var li = el("li");
        li.id = root.id + "-opt-" + j;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", r === active ? "true" : "false");
        li.appendChild(el("b", "", D.labels[j]));
        li.appendChild(el("span", "", fmt(PRED[j])));
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(j); });
        list.appendChild(li);
      });
      if (!matches.length) list.appendChild(el("li", "xm-na", "no tag matches"));
      list.hidden = false;
      search.setAttribute("aria-expanded", "true");
      if (active >= 0) {
        search.setAttribute("aria-activedescendant", root.id + "-opt-" + matches[active]);
        var cur = list.children[active];
        if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
      }
    }
    function closeList() { list.hidden = true; search.setAttribute("aria-expanded", "false"); }
    function choose(j) { selectTag(j); search.value = ""; closeList(); }
    search.addEventListener("input", filter);
    search.addEventListener("focus", filter);
    search.addEventListener("blur", function () { setTimeout(closeList, 150); });
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        if (list.hidden) filter();
        if (matches.length) active = (active + (ev.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        renderList();
      } else if (ev.key === "Enter") {
        ev.preventDefault();
        if (active >= 0) choose(matches[active]);
      } else if (ev.key === "Escape") { closeList(); }
    });
    function selectTag(j) { st.tag = j; update(); }

    // -- keyboard --------------------------------------------------------------------------------
    var scoped = root.getAttribute("data-keys") !== "document";
    function onKey(ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      var t = ev.target, tag = t && t.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
      var key = ev.key, done = true;
      if (key === " " || key === "Spacebar") toggle();
      else if (/^[1-9]$/.test(key) && +key <= n) toggleStem(+key - 1);
      else if (key === "0") setMask(FULL);
      else if (key === "s" || key === "S") setSolo(st.stem, !st.solo[st.stem]);
      else if (key === "l" || key === "L") toggleLoop();
      else done = false;
      if (done) {
        ev.preventDefault();
        if (scoped) ev.stopPropagation();  // a notebook's own shortcuts stay out of it
      }
    }
    (scoped ? root : document).addEventListener("keydown", onKey);

    // -- drawing ---------------------------------------------------------------------------------
    var lastSeg = -2;
    function frame() {  // every animation frame while playing: playhead, meters, segment scores
      drawHead();
      drawMeters();
      var k = K ? segAt(position()) : -1;
      if (k !== lastSeg) { lastSeg = k; if (SC) { drawScores(); drawTimeView(); } }
    }
    function update() {  // after any change of mix or tag
      q(".xm-tag-name").textContent = D.labels[st.tag];
      drawStrips();
      drawScores();
      drawWaterfall();
      drawTimeView();
      lastSeg = K ? segAt(position()) : -1;
      frame();
    }
    function redraw() { drawWave(); update(); }
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) cancelAnimationFrame(pending);
      pending = requestAnimationFrame(redraw);
    });
    redraw();
    decode();
    var api = {
      data: D, state: st, mask: mask, value: value, segValue: segValue, play: start, pause: stop, seek: seek,
      position: position, toggleStem: toggleStem, setMask: setMask, selectTag: selectTag,
      audio: function () { return A; }
    };
    root.__xm = api;
    root.setAttribute("data-ready", "true");
    return api;
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".xm"), function (r) {
      if (r.querySelector("script.xm-data")) mount(r);
    });
  }
  window.XmtagReport = { mount: mount, mountAll: mountAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
