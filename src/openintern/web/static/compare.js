// Two runs side by side: their metrics overlaid, one chart per metric, the legend naming
// each run by what tells it apart.
import { ChartPanel } from "./charts.js";

const root = document.querySelector("[data-a]");
const panel = new ChartPanel(document.getElementById("chart"), [
  { id: root.dataset.a, label: root.dataset.titleA }, { id: root.dataset.b, label: root.dataset.titleB }]);
panel.follow(3000);
