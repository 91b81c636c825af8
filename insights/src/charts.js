// The insights dashboard's charts: Chart.js 4 (https://www.chartjs.org) with only the pieces the page draws
// (bars and lines on category and linear axes, legend, tooltips), so the bundle stays small. insights.js
// imports `Chart` from the bundle `make insights` builds (esbuild) from the versions pinned in package-lock.json.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

export { Chart };
