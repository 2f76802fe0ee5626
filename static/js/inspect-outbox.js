/* The inspector's outbox: every inspection is written to IndexedDB (photos as Blobs) before it is
 * sent, and leaves only when the server has stored it. A send that fails for want of a network or
 * because the server is down (5xx) stays and is retried: on the `online` event, on a timer and on
 * the next page load. The phone's client_id goes with each try, so the server stores it once even
 * when an answer was lost after it had been stored.
 */
(function () {
  "use strict";
  const DB = "geo_app_inspect";
  const STORE = "outbox";
  const RETRY_MS = 20000;

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, {keyPath: "client_id"});
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function run(mode, action) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = action(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }

  const put = (entry) => run("readwrite", (s) => s.put(entry));
  const remove = (clientId) => run("readwrite", (s) => s.delete(clientId));
  const all = () => run("readonly", (s) => s.getAll());

  function newClientId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* One try: "sent" (with the stored record), "pending" (try again later), "auth" (sign in
   * again, then try again) or "refused" (the server said what is wrong; trying again won't help). */
  async function send(entry) {
    const body = new FormData();
    body.append("inspection", JSON.stringify({...entry.inspection, client_id: entry.client_id}));
    (entry.photos || []).forEach((p) => body.append("photos", p.blob, p.name));
    let response;
    try {
      response = await fetch(entry.url, {method: "POST", body, credentials: "same-origin",
                                         headers: {"X-CSRFToken": csrfToken(), Accept: "application/json"}});
    } catch (networkError) {
      return {outcome: "pending"};
    }
    let answer = null;
    try { answer = await response.json(); } catch (notJson) { answer = null; }
    if (response.ok) return {outcome: "sent", record: answer};
    if (response.status === 401 || response.status === 403) return {outcome: "auth", message: answer && answer.description};
    const description = (answer && answer.description) || `HTTP ${response.status}`;
    // A stale CSRF token (signed in again elsewhere) is fixed by reloading the page, not by the user.
    if (response.status >= 500 || response.status === 408 || response.status === 429 || /CSRF/i.test(description)) {
      return {outcome: "pending", message: description};
    }
    return {outcome: "refused", message: description};
  }

  let flushing = null;
  const listeners = [];

  function notify(event) { listeners.forEach((fn) => fn(event)); }

  /* Send every waiting entry once (one flush at a time). */
  function flush() {
    if (flushing) return flushing;
    flushing = (async () => {
      // Only the signed-in inspector's forms: on a shared phone, another inspector's queued forms
      // wait for them to sign in again rather than be stored under someone else's name.
      const entries = (await all()).filter((e) => e.status === "pending" && e.user === window.GeoAppOutbox.user)
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
      for (const entry of entries) {
        const result = await send(entry);
        if (result.outcome === "sent") {
          await remove(entry.client_id);
          notify({type: "sent", entry, record: result.record});
        } else if (result.outcome === "refused") {
          await put({...entry, status: "refused", error: result.message});
          notify({type: "refused", entry, message: result.message});
        } else {
          notify({type: result.outcome, entry, message: result.message});
          if (result.outcome === "pending" && !navigator.onLine) break; // the rest would fail too
        }
      }
      notify({type: "flushed"});
    })().finally(() => { flushing = null; });
    return flushing;
  }

  window.addEventListener("online", () => flush());
  setInterval(() => { if (navigator.onLine) flush(); }, RETRY_MS);

  window.GeoAppOutbox = {
    user: null,  // set by the page: whose forms this page may send
    newClientId, put, remove, all, send, flush,
    onChange: (fn) => listeners.push(fn),
    /* Keep the entry on the phone, then try to send it at once. */
    async submit(entry) {
      const stored = {...entry, status: "pending", created_at: new Date().toISOString()};
      await put(stored);
      const result = await send(stored);
      if (result.outcome === "sent") {
        await remove(stored.client_id);
      } else if (result.outcome === "refused") {
        await remove(stored.client_id); // the form is still on screen to be corrected
      }
      notify({type: "changed"});
      return result;
    },
  };
})();
