// Starts GOV.UK Frontend's components (character counts, error summary focus, notification banners, ...) on the task
// pages. A file of its own because the pages are served with `script-src 'self'`: no inline script may run, so the
// class GOV.UK Frontend v5 looks for on <body> (its template's inline snippet adds it) is added here instead, before
// initAll, which does nothing without it. Loaded as a module, so it runs only in browsers v5 supports; in any other
// the pages work as plain HTML forms.
import { initAll } from './govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()

// A long form keeps what was typed: while a person types, the form is saved as their draft every 15 seconds (the
// same as "Save draft", sealed on the server), so a closed tab or the idle sign-out loses at most those seconds. A
// save made after the session ended is refused by the server; the page then says so, and what was saved before stays.
const SAVE_EVERY = 15000
for (const form of document.querySelectorAll('form[data-cspr-autosave]')) {
  const status = document.getElementById('autosave-status')
  let changed = false
  form.addEventListener('input', () => { changed = true })
  form.addEventListener('submit', () => { changed = false })
  setInterval(async () => {
    if (!changed) return
    changed = false
    const fields = new URLSearchParams(new FormData(form))
    fields.set('action', 'autosave')
    try {
      const answer = await fetch(form.action, { method: 'POST', body: fields, credentials: 'same-origin', redirect: 'manual' })
      const at = new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
      if (answer.status === 204) {
        status.textContent = `Draft saved at ${at}.`
      } else if (answer.status === 401 || answer.status === 400) {
        status.textContent = 'You have been signed out. What you typed before is kept as a draft: sign in again to go on.'
      } else {
        changed = true
      }
    } catch {
      changed = true  // offline for a moment: try again at the next turn
    }
  }, SAVE_EVERY)
}
