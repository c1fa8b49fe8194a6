// The page as a binary built with Go alone serves it: the state and tables
// of core.js with hand-drawn SVG sparklines, and a note on how to get the
// full charts.
import { start } from './core.js';
import { sparkline } from './spark.js';

const n = document.getElementById('notice');
n.hidden = false;
n.innerHTML = 'Basic charts: this binary was built without the chart bundle. For the full interactive charts run <code>make dashboard-assets</code> (needs Node.js and npm) and rebuild, or use <code>make build</code>, which does both.';
start(sparkline);
