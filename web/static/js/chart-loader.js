// Chart.js (vendored) for the pages that draw charts: loaded on first use, once per page, so
// a page without charts never fetches it and every chart waits for the same script.
const CHART_SRC = "/static/vendor/chart-4.6.1.umd.min.js";

let loading = null;

/** window.Chart, loading the vendored script once (again after a failed load). */
export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = CHART_SRC;
    script.onload = () => resolve(window.Chart);
    script.onerror = () => {
      loading = null;
      reject(new Error("chart script failed to load"));
    };
    document.head.append(script);
  });
  return loading;
}
