// The post editor's small enhancements; every page works without this file.
(function () {
  'use strict';

  // Warn before leaving the editor with changes that neither autosave nor Save has stored yet.
  var edits = 0;      // bumped on every change
  var savedEdits = 0; // the value of `edits` when the last successful save was sent
  var leaving = false;

  function editor(el) {
    return el && el.closest ? el.closest('form[data-unsaved-warning]') : null;
  }

  document.addEventListener('input', function (event) {
    if (editor(event.target)) edits += 1;
  });
  document.addEventListener('submit', function (event) {
    if (editor(event.target) && !event.defaultPrevented) leaving = true;
  });
  document.addEventListener('htmx:configRequest', function (event) {
    if (editor(event.detail.elt)) event.detail.elt.setAttribute('data-edits-sent', String(edits));
  });
  document.addEventListener('htmx:afterRequest', function (event) {
    var form = editor(event.detail.elt);
    if (form && event.detail.successful) savedEdits = Number(form.getAttribute('data-edits-sent') || '0');
  });
  window.addEventListener('beforeunload', function (event) {
    if (leaving || edits === savedEdits || !document.querySelector('form[data-unsaved-warning]')) return;
    event.preventDefault();
    event.returnValue = ''; // Older browsers need a value to show their "leave site?" dialog.
  });

  // Validation (422) and conflict (409) answers carry the message to show: let htmx swap them in
  // for the forms that ask for it, instead of dropping them as errors.
  document.addEventListener('htmx:beforeSwap', function (event) {
    var status = event.detail.xhr.status;
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    var wants = elt && elt.closest && elt.closest('[data-swap-errors], [data-autosave]');
    if (wants && (status === 422 || status === 409)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
