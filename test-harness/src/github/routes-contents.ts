/**
 * `GET /repos/{o}/{r}/contents/{path}?ref=`: files (base64 up to 1 MB, `encoding: "none"` above,
 * bytes with the raw media type, 403 `too_large` past 100 MB), directories (array, or `entries`
 * with the object media type) and symlinks/submodules, as GitHub answers them.
 */
import type { Route } from "./context.ts";
import type { TreeEntry } from "./git.ts";
import { HttpError, mediaFormat, notFound, wrappedBase64 } from "./http.ts";
import { contentItem, contentType } from "./shapes.ts";

const DOCS = "https://docs.github.com/rest/repos/contents#get-repository-content";

export const contentRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/contents(?:\/(.*))?$/,
    docs: DOCS,
    async handle(context) {
      const { repo, settings, urls } = context;
      const path = (context.params[0] ?? "").replace(/^\/+|\/+$/g, "");
      if (!(await repo.git.hasCommits())) throw new HttpError(404, "This repository is empty.", DOCS);
      const ref = context.url.searchParams.get("ref") || repo.defaultBranch;
      const commit = await repo.resolveCommit(ref);
      if (!commit) throw new HttpError(404, `No commit found for the ref ${ref}`, DOCS);
      const format = mediaFormat(context.request.headers.accept);

      let entry: TreeEntry | undefined;
      if (path === "")
        entry = {
          mode: "040000",
          type: "tree",
          sha: (await repo.git.readCommit(commit)).tree,
          size: undefined,
          path: "",
        };
      else entry = await repo.git.entryAt(commit, path);
      if (!entry) throw notFound(DOCS);

      if (entry.type === "tree") {
        const children = (await repo.git.listTree(entry.sha)).slice(0, settings.directoryListingMax);
        // Submodules are listed as "file" in directory listings, for backwards compatibility.
        const items = children.map((child) => {
          const childPath = path === "" ? child.path : `${path}/${child.path}`;
          const type = contentType(child);
          return contentItem(urls, ref, childPath, child, type === "submodule" ? "file" : type);
        });
        if (format === "object")
          context.json(200, { ...contentItem(urls, ref, path, entry, "dir"), entries: items });
        else context.json(200, items);
        return;
      }
      if (entry.type === "commit") {
        context.json(200, { ...contentItem(urls, ref, path, entry, "submodule"), submodule_git_url: null });
        return;
      }
      const size = entry.size ?? 0;
      if (size > settings.contentsMaxBytes) {
        throw new HttpError(
          403,
          "This API returns blobs up to 100 MB in size. The requested blob is too large to fetch via the API, but you can use the Git Data API to request blobs up to 100 MB in size.",
          DOCS,
          {
            errors: [{ resource: "Blob", field: "data", code: "too_large" }],
          },
        );
      }
      if (entry.mode === "120000") {
        const target = (await repo.git.readBlob(entry.sha)).toString("utf8");
        if (format !== "raw") {
          context.json(200, { ...contentItem(urls, ref, path, entry, "symlink"), target });
          return;
        }
      }
      if (format === "raw") {
        context.raw(200, repo.git.streamBlob(entry.sha), "application/vnd.github.raw; charset=utf-8", {
          "content-length": String(size),
          "x-github-media-type": "github.v3; param=raw; format=json",
        });
        return;
      }
      const inline = size <= settings.contentsInlineMaxBytes;
      context.json(200, {
        ...contentItem(urls, ref, path, entry, "file"),
        content: inline ? wrappedBase64(await repo.git.readBlob(entry.sha)) : "",
        encoding: inline ? "base64" : "none",
      });
    },
  },
];
