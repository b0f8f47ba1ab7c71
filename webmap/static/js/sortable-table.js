/* petakota: sort the rows of every table.sortable by clicking a column header (again: reverse).
 *
 * A cell's data-sort-value is compared when present (as a number when it is one), else its text
 * (natural order, so "1002" after "999").  Empty values always sort last.  The sorted header
 * carries aria-sort="ascending" or "descending"; a header with data-nosort is left alone, and a
 * header that already has aria-sort marks the order the table is served in.
 */
(function () {
  "use strict";

  var collator = new Intl.Collator(document.documentElement.lang || undefined,
                                   {numeric: true, sensitivity: "base"});

  function sortKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return {empty: true}; }
    var explicit = cell.hasAttribute("data-sort-value");
    var raw = (explicit ? cell.getAttribute("data-sort-value") : cell.textContent).trim();
    if (raw === "") { return {empty: true}; }
    var number = explicit ? Number(raw) : NaN;
    return isFinite(number) ? {number: number} : {text: raw};
  }

  function compare(a, b) {
    if ("number" in a && "number" in b) { return a.number - b.number; }
    if ("number" in a) { return -1; }
    if ("number" in b) { return 1; }
    return collator.compare(a.text, b.text);
  }

  function sortBy(table, header) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var index = header.cellIndex;
    Array.prototype.forEach.call(table.tHead.querySelectorAll("th[aria-sort]"), function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.map.call(body.rows, function (row, position) {
        return {row: row, key: sortKey(row, index), position: position};
      });
      rows.sort(function (a, b) {
        if (a.key.empty || b.key.empty) {
          return ((a.key.empty ? 1 : 0) - (b.key.empty ? 1 : 0)) || (a.position - b.position);
        }
        return (ascending ? compare(a.key, b.key) : compare(b.key, a.key))
          || (a.position - b.position);
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (item) { fragment.appendChild(item.row); });
      body.appendChild(fragment);
    });
  }

  function enable(table) {
    if (!table.tHead || !table.tHead.rows.length) { return; }
    var headers = table.tHead.rows[table.tHead.rows.length - 1].cells;
    Array.prototype.forEach.call(headers, function (header) {
      if (header.hasAttribute("data-nosort")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (header.firstChild) { button.appendChild(header.firstChild); }
      header.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, header); });
    });
  }

  document.querySelectorAll("table.sortable").forEach(enable);
}());
