// The ward report's charts (pages_money.cpp), drawn with uPlot (served from this directory) from
// the page's own data block. Without JavaScript the tables under the charts carry the same
// numbers, so nothing here is needed to read the report.
(function () {
  'use strict';
  const block = document.getElementById('report-data');
  if (!block || typeof uPlot === 'undefined') return;
  const data = JSON.parse(block.textContent);
  const width = () => Math.max(320, Math.min(960, document.querySelector('main').clientWidth - 20));
  const bars = uPlot.paths.bars({ size: [0.7, 60] });

  function draw(id, xs, ys, label, xOpts, xValues) {
    const el = document.getElementById(id);
    if (!el) return;
    const opts = {
      width: width(),
      height: 260,
      scales: { x: xOpts },
      axes: [{ values: xValues }, {}],
      series: [{}, { label, stroke: '#1b5e9b', fill: 'rgba(27, 94, 155, 0.35)', paths: bars }],
      legend: { show: true },
    };
    el.dataset.points = String(xs.length);
    new uPlot(opts, [xs, ys], el);
  }

  // Machine hours per day: x is each local day's noon in seconds, as uPlot's time axis wants.
  const dayXs = data.days.map((d) => Date.parse(d.date + 'T12:00:00Z') / 1000);
  draw('chart-daily', dayXs, data.days.map((d) => d.machine_hours), 'h', { time: true });

  const hourXs = data.hours.map((_, i) => i);
  draw('chart-hourly', hourXs, data.hours, 'occupancy', { time: false },
    (u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s).padStart(2, '0') + ':00' : '')));

  const names = data.machines.map((m) => m.id);
  draw('chart-machines', names.map((_, i) => i), data.machines.map((m) => m.sessions), 'sessions',
    { time: false, range: [-0.5, Math.max(0.5, names.length - 0.5)] },
    (u, splits) => splits.map((s) => (Number.isInteger(s) && names[s] !== undefined ? names[s] : '')));
})();
