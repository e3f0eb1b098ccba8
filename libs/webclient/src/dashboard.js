// The analytics dashboard: the seed's five /reporting routes over a date range, drawn with
// Chart.js and repeated as tables for screen readers. Tests read `window.seedDashboard`.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const REPORTS = {
  total: '/reporting/total-sessions-for-user',
  byDay: '/reporting/total-sessions-aggregation-for-user',
  statistics: '/reporting/total-sessions-statistics-for-user',
  byPlace: '/reporting/total-sessions-by-location-for-user',
  byCity: '/reporting/total-sessions-and-participants-count-by-location-for-user',
};
// The form's text filters, named as the routes' query parameters.
const FILTERS = ['domain', 'sessionType', 'countryCode', 'countryName', 'cityName', 'userID'];
const COLOURS = ['#1a5fb4', '#e66100', '#26a269', '#a51d2d', '#613583', '#865e3c', '#5e5c64', '#c64600'];
const TIMEOUT_MS = 15000;

const $ = (selector) => document.querySelector(selector);

const dashboard = { chartVersion: Chart.version, charts: {}, reports: null };
window.seedDashboard = dashboard;

class ReportError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

function say(message, { error = false } = {}) {
  const status = $('#status');
  status.textContent = message;
  status.classList.toggle('error', error);
}

// The query string every route gets: the filters with a value, and the days as UTC instants.
function reportQuery(form) {
  const data = new FormData(form);
  const query = new URLSearchParams();
  const start = String(data.get('startDate') ?? '');
  const end = String(data.get('endDate') ?? '');
  if (start) query.set('startDateRange', `${start}T00:00:00.000Z`);
  if (end) query.set('endDateRange', `${end}T23:59:59.999Z`);
  for (const name of FILTERS) {
    const value = String(data.get(name) ?? '').trim();
    if (value) query.set(name, value);
  }
  return query;
}

async function fetchReport(path, query, { apiKey, token }) {
  const headers = { 'x-api-key': apiKey, Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${path}?${query}`, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = await response.json().catch(() => null);
  if (!response.ok || !body?.success) {
    throw new ReportError(response.status, body?.message ?? response.statusText, body?.field ?? null);
  }
  return body.data;
}

async function fetchReports(query, credentials) {
  const names = Object.keys(REPORTS);
  const answers = await Promise.all(names.map((name) => fetchReport(REPORTS[name], query, credentials)));
  return Object.fromEntries(names.map((name, index) => [name, answers[index]]));
}

function explain(error) {
  if (error instanceof ReportError) {
    if (error.status === 403) {
      return `Analytics are part of the Professional plan, and this API key's tenant is on Essential. (${error.message})`;
    }
    if (error.status === 400 && /DateRange$/.test(error.field ?? '')) {
      return `Check the date range: ${error.message} (${error.field}).`;
    }
    if (error.status === 400) return `Check the filters: ${error.message}${error.field ? ` (${error.field})` : ''}.`;
    if (error.status === 401) return `The API key or access token was refused: ${error.message}`;
    return `The reports could not be loaded (HTTP ${error.status}): ${error.message}`;
  }
  if (error?.name === 'TimeoutError') return 'The gateway did not answer in time; try again.';
  return `The gateway could not be reached: ${error?.message ?? error}`;
}

// -- tables: every number as text --------------------------------------------------------

function fillTable(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = document.createElement('tr');
      for (const cell of cells) {
        const td = document.createElement('td');
        td.textContent = String(cell);
        if (typeof cell === 'number') td.className = 'number';
        row.append(td);
      }
      return row;
    }),
  );
  if (rows.length === 0) {
    const row = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = $(`${selector} thead tr`).children.length;
    td.textContent = 'No completed sessions match.';
    row.append(td);
    body.append(row);
  }
}

const day = (instant) => instant.slice(0, 10);
const placeLabel = (place) => (place.city === 'unknown' ? 'unknown' : `${place.city}, ${place.country}`);

// -- charts -------------------------------------------------------------------------------

function drawChart(name, labels, datasets, { stacked = false } = {}) {
  dashboard.charts[name]?.destroy();
  dashboard.charts[name] = new Chart($(`#${name}-chart`), {
    type: 'bar',
    data: {
      labels,
      datasets: datasets.map((dataset, index) => ({ backgroundColor: COLOURS[index % COLOURS.length], ...dataset })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, ticks: { precision: 0 } },
      },
      plugins: { legend: { display: datasets.length > 1 } },
    },
  });
}

function show(reports, query) {
  $('#total-sessions').textContent = String(reports.total.totalSessions);
  const start = query.get('startDateRange');
  const end = query.get('endDateRange');
  $('#summary-range').textContent = start || end ? `${start ? day(start) : 'any'} to ${end ? day(end) : 'any'}` : 'any';

  const days = reports.byDay.map((entry) => day(entry.date));
  const domains = [...new Set(reports.byDay.flatMap((entry) => entry.domainCounts.map((count) => count.domain)))];
  drawChart(
    'by-day',
    days,
    domains.map((domain) => ({
      label: domain,
      data: reports.byDay.map((entry) => entry.domainCounts.find((count) => count.domain === domain)?.count ?? 0),
    })),
    { stacked: true },
  );
  fillTable(
    '#by-day-table',
    reports.byDay.flatMap((entry) => entry.domainCounts.map((count) => [day(entry.date), count.domain, count.count])),
  );

  const types = reports.statistics.totalSessionsByType;
  drawChart('by-type', types.map((type) => type.sessionType), [
    { label: 'Sessions', data: types.map((type) => type.totalSessions) },
  ]);
  fillTable('#by-type-table', types.map((type) => [type.sessionType, type.totalSessions]));

  drawChart('by-place', reports.byPlace.map((entry) => placeLabel(entry._id)), [
    { label: 'Sessions', data: reports.byPlace.map((entry) => entry.count) },
  ]);
  fillTable(
    '#by-place-table',
    reports.byPlace.map(({ _id: place, count }) => [place.city, place.region, place.country, place.country_name, count]),
  );

  drawChart('by-city', reports.byCity.map((entry) => entry._id), [
    { label: 'Participants', data: reports.byCity.map((entry) => entry.totalParticipants) },
    { label: 'Sessions', data: reports.byCity.map((entry) => entry.totalSessions) },
  ]);
  fillTable('#by-city-table', reports.byCity.map((entry) => [entry._id, entry.totalSessions, entry.totalParticipants]));
}

// -- the form ----------------------------------------------------------------------------

let latest = 0;

async function load(form) {
  const request = ++latest;
  const query = reportQuery(form);
  const credentials = { apiKey: $('#api-key').value.trim(), token: $('#token').value.trim() };
  const reportsElement = $('#reports');
  reportsElement.setAttribute('aria-busy', 'true');
  say('Loading the reports…');
  try {
    const reports = await fetchReports(query, credentials);
    if (request !== latest) return; // a newer submission owns the page
    dashboard.reports = reports;
    reportsElement.hidden = false;
    show(reports, query);
    const total = reports.total.totalSessions;
    say(`Showing ${total} completed session${total === 1 ? '' : 's'}.`);
  } catch (error) {
    if (request !== latest) return;
    dashboard.reports = null;
    reportsElement.hidden = true;
    say(explain(error), { error: true });
  } finally {
    if (request === latest) reportsElement.removeAttribute('aria-busy');
  }
}

$('#filters-form').addEventListener('submit', (event) => {
  event.preventDefault();
  load(event.currentTarget);
});
