// Live updates: the server sends the page's regions anew over server-sent events; a region
// holding the keyboard focus (someone is typing a comment) is updated once the focus leaves.
(function () {
  var view = document.body.getAttribute("data-live");
  if (!view || !window.EventSource) return;
  var dot = document.getElementById("live");
  var pending = {};
  function apply(id, html) {
    var el = document.getElementById(id);
    if (!el) return;
    if (el.contains(document.activeElement) && document.activeElement !== document.body) {
      pending[id] = html;
      return;
    }
    delete pending[id];
    el.outerHTML = html;
  }
  document.addEventListener("focusout", function () {
    setTimeout(function () {
      Object.keys(pending).forEach(function (id) { apply(id, pending[id]); });
    }, 0);
  });
  var es = new EventSource("/dashboard/events?" + view);
  es.addEventListener("open", function () { if (dot) { dot.classList.add("on"); dot.textContent = "live"; } });
  es.addEventListener("error", function () { if (dot) { dot.classList.remove("on"); dot.textContent = "reconnecting"; } });
  es.addEventListener("replace", function (e) {
    var parts = JSON.parse(e.data);
    parts.forEach(function (p) { apply(p.id, p.html); });
    document.body.setAttribute("data-updated", String(Date.now()));
  });
  // The stream holds one of the browser's six connections to the server: give it back as the
  // page is left (a page kept in the back/forward cache would otherwise keep it open), and
  // load the page afresh if it is shown from that cache.
  window.addEventListener("pagehide", function () { es.close(); });
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
})();
// Forms that ask first ("Reboot the kiosk?"), also inside regions replaced later.
document.addEventListener("submit", function (e) {
  var q = e.target.getAttribute && e.target.getAttribute("data-confirm");
  if (q && !window.confirm(q)) e.preventDefault();
});
