// Starts GOV.UK Frontend's components (character counts, error summary focus, notification banners, ...) on the task
// pages. A file of its own because the pages are served with `script-src 'self'`: no inline script may run, so the
// class GOV.UK Frontend v5 looks for on <body> (its template's inline snippet adds it) is added here instead, before
// initAll, which does nothing without it. Loaded as a module, so it runs only in browsers v5 supports; in any other
// the pages work as plain HTML forms.
import { initAll } from './govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()
