// Image uploads in the post editor: the upload form posts without leaving the page and the Markdown goes
// where the cursor is; an image dropped on the body does the same. Without this file the form still works.
(function () {
  'use strict';

  function body() {
    return document.getElementById('f-body');
  }

  // Where the cursor was when the writer left the body (for the upload form): the image goes there.
  var cursor = null;
  document.addEventListener('focusout', function (event) {
    if (event.target === body()) cursor = [event.target.selectionStart, event.target.selectionEnd];
  });

  function insertAtCursor(text) {
    var area = body();
    if (!area) return;
    var at = document.activeElement === area || !cursor ? [area.selectionStart, area.selectionEnd] : cursor;
    var start = Math.min(at[0], area.value.length);
    var end = Math.min(at[1], area.value.length);
    var before = area.value.slice(0, start);
    var after = area.value.slice(end).replace(/^\n+/, '');
    var gap = before === '' || /\n\n$/.test(before) ? '' : /\n$/.test(before) ? '\n' : '\n\n';
    area.value = before + gap + text + (after === '' ? '\n' : '\n\n' + after);
    area.selectionStart = area.selectionEnd = start + gap.length + text.length;
    cursor = null;
    // The editor's autosave listens for input.
    area.dispatchEvent(new Event('input', { bubbles: true }));
    area.focus();
  }

  function upload(form, file, alt) {
    var status = form.querySelector('[data-image-status]');
    var data = new FormData();
    data.append('alt', alt);
    data.append('file', file);
    status.textContent = 'Uploading…';
    return fetch(form.action, { method: 'POST', body: data, headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) {
        return res.json().then(function (json) {
          if (!res.ok) throw new Error((json.error && json.error.message) || 'The upload failed.');
          insertAtCursor(json.markdown);
          status.textContent = 'Added.';
          form.reset();
        });
      })
      .catch(function (err) {
        status.textContent = err.message;
      });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.matches || !form.matches('form[data-image-upload]') || !body()) return;
    var file = form.querySelector('input[type=file]').files[0];
    var alt = form.querySelector('input[name=alt]').value.trim();
    if (!file || !alt) return; // the server answers with the message beside the field
    event.preventDefault();
    upload(form, file, alt);
  });

  document.addEventListener('dragover', function (event) {
    if (event.target === body()) event.preventDefault();
  });
  document.addEventListener('drop', function (event) {
    var form = document.querySelector('form[data-image-upload]');
    if (event.target !== body() || !form || !event.dataTransfer || event.dataTransfer.files.length === 0) return;
    event.preventDefault();
    var file = event.dataTransfer.files[0];
    var alt = window.prompt('Describe the image for readers who cannot see it (alt text):', '');
    if (alt === null || alt.trim() === '') return;
    upload(form, file, alt.trim());
  });
})();
