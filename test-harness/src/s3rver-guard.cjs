// Loaded into the s3rver process (node --require). s3rver 3.7.1 writes an object's body with
// fs.createWriteStream and no "error" listener, right after making its folder; DeleteObject removes
// folders left empty. When a delete empties a folder between another PUT's mkdir and its open, the
// unhandled "error" (ENOENT) ends the whole server, and every later request is refused. Here such an
// error only fails that request (the metadata write after it finds no folder either, so the client
// gets a 500 and retries), as on S3, where concurrent writes and deletes in one prefix are routine.
// Anything else still ends the process, as it would have.
process.on("uncaughtException", (error) => {
  if (error?.code === "ENOENT") {
    process.stderr.write(`s3rver-guard: a request failed instead of the server: ${error.message}\n`);
    return;
  }
  process.stderr.write(`${error?.stack ?? String(error)}\n`);
  process.exit(1);
});
