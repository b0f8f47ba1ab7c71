/* petakota: the siting job page polls the job's JSON status and shows the result when ready.
 *
 * The status URL is the data-status-url of #job; the texts come from the JSON block
 * #tapak-texts.  When the job is done or failed the page is loaded again: the server then
 * renders the result (or the reason and what to change).
 */
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) { return; }
  var state = document.getElementById("job-state"),
      texts = JSON.parse(document.getElementById("tapak-texts").textContent),
      url = job.getAttribute("data-status-url"), delay = 1000;

  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (status) {
        if (status.state === "running") {
          state.textContent = texts.running.replace("{s}", String(status.elapsed));
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(poll, delay);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { state.textContent = texts.lost; });
  }
  window.setTimeout(poll, 500);
}());
