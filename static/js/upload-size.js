// The upload page: a file over the server's limit is refused here, before it is sent
// (the server would not read it). The limit and the message come from the input's data-*.
document.addEventListener("submit", (event) => {
  const input = event.target.querySelector("input[type=file][data-max-bytes]");
  const file = input && input.files[0];
  if (!file || file.size <= Number(input.dataset.maxBytes)) {
    return;
  }
  event.preventDefault();
  const message = document.getElementById("upload-too-large");
  message.hidden = false;
  message.textContent = input.dataset.tooLarge;
});
