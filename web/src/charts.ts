// Plots with Chart.js (only the pieces used are registered, so the bundle stays small). Each
// chart is a canvas with role="img" and a text summary, followed by the same numbers as a
// table for screen readers and keyboard users.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
} from 'chart.js';

import { h, table } from './dom';

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);

export interface Series {
  label: string;
  data: number[];
}

/** Bars (left axis) and a line (right axis) over the same labels. */
export class BarLineChart {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tableSlot: HTMLElement;
  private chart: Chart | null = null;

  constructor(
    private readonly title: string,
    private readonly xLabel: string,
    id: string,
  ) {
    this.canvas = h('canvas', { id, role: 'img', 'aria-label': `${title}: no data yet` });
    this.tableSlot = h('div');
    this.el = h(
      'figure',
      { class: 'chart' },
      h('figcaption', {}, title),
      h('div', { class: 'chart-box' }, this.canvas),
      h('details', {}, h('summary', {}, `${title}: the numbers`), this.tableSlot),
    );
  }

  update(labels: string[], bars: Series, line: Series, format: (v: number, which: 'bars' | 'line') => string): void {
    const summary =
      labels.length === 0
        ? 'no data yet'
        : labels.map((l, i) => `${l}: ${format(bars.data[i] ?? 0, 'bars')}, ${format(line.data[i] ?? 0, 'line')}`).join('; ');
    this.canvas.setAttribute('aria-label', `${this.title}: ${summary}`);
    this.canvas.dataset.points = String(labels.length);
    this.tableSlot.replaceChildren(
      table(
        this.title,
        [this.xLabel, bars.label, line.label],
        labels.map((l, i) => [l, format(bars.data[i] ?? 0, 'bars'), format(line.data[i] ?? 0, 'line')]),
      ),
    );
    if (this.chart) {
      this.chart.data.labels = labels;
      const [b, l] = this.chart.data.datasets;
      if (b) b.data = bars.data;
      if (l) l.data = line.data;
      this.chart.update('none');
      this.markPlotArea();
      return;
    }
    this.chart = new Chart(this.canvas, {
      data: {
        labels,
        datasets: [
          { type: 'bar', label: bars.label, data: bars.data, backgroundColor: '#1d4ed8', yAxisID: 'y', order: 2 },
          {
            type: 'line',
            label: line.label,
            data: line.data,
            borderColor: '#b45309',
            backgroundColor: '#b45309',
            pointRadius: 4,
            borderWidth: 2,
            yAxisID: 'y1',
            order: 1,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { title: { display: true, text: this.xLabel, color: '#1f2937' }, ticks: { color: '#1f2937' } },
          y: {
            beginAtZero: true,
            position: 'left',
            title: { display: true, text: bars.label, color: '#1f2937' },
            ticks: { color: '#1f2937', precision: 0 },
          },
          y1: {
            beginAtZero: true,
            position: 'right',
            grid: { drawOnChartArea: false },
            title: { display: true, text: line.label, color: '#1f2937' },
            ticks: { color: '#1f2937' },
          },
        },
        plugins: { legend: { labels: { color: '#1f2937' } } },
      },
    });
    this.markPlotArea();
  }

  /** The plot area (CSS pixels: left, top, right, bottom) in `data-plot`, for checks that the
   * bars are drawn (the legend's swatches have the same colours). */
  private markPlotArea(): void {
    const a = this.chart?.chartArea;
    if (a) this.canvas.dataset.plot = [a.left, a.top, a.right, a.bottom].map(Math.round).join(',');
  }

  destroy(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}
