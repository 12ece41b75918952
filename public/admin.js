// Small progressive enhancements for the admin; every page works without this file.
document.addEventListener('submit', function (event) {
  var form = event.target;
  var question = form instanceof HTMLFormElement && form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});
