// Experiments page: sortable tables (sort.js), metric charts of one run refreshed every
// 5 s while shown (running jobs update), and picking two runs to compare.
import "./sort.js";
import { drawRuns } from "./charts.js";

const chart = document.getElementById("chart");
let timer = null;

for (const button of document.querySelectorAll(".show-chart")) {
  button.addEventListener("click", () => {
    const run = { id: button.dataset.exp, label: button.closest("tr").cells[1].textContent.trim() };
    clearInterval(timer);
    drawRuns(chart, [run]);
    timer = setInterval(() => drawRuns(chart, [run]), 5000);
  });
}

const picks = [...document.querySelectorAll("input.pick")];
function updateCompare() {
  const chosen = picks.filter((p) => p.checked).map((p) => p.value);
  document.getElementById("compare").disabled = chosen.length !== 2;
  document.getElementById("compare-a").value = chosen[0] ?? "";
  document.getElementById("compare-b").value = chosen[1] ?? "";
  document.getElementById("compare-hint").textContent = chosen.length > 2 ? "Choose only two runs." : "Tick two runs to compare them side by side.";
}
for (const p of picks) p.addEventListener("change", updateCompare);
