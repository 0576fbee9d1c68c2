// Two runs side by side: their metrics overlaid, one chart per metric.
import { drawRuns } from "./charts.js";

const root = document.querySelector("[data-a]");
const names = [...document.querySelectorAll("#comparison thead th")].slice(1).map((th) => th.textContent.trim());
drawRuns(document.getElementById("chart"), [{ id: root.dataset.a, label: names[0] }, { id: root.dataset.b, label: names[1] }]);
