// What a drop or a chooser gives, as the files to upload with their paths relative to the
// current prefix: a chosen folder's files carry `webkitRelativePath` (`folder/sub/file`);
// a dropped folder is walked with the File and Directory Entries API
// (`DataTransferItem.webkitGetAsEntry`, `readEntries` until it answers nothing more).
// Empty folders make no keys (S3 has no directories).

// The files of a chooser (of files or of a folder): [{ file, path }].
export function chosen(fileList) {
  return [...fileList].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

function entries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry, out) {
  if (entry.isFile) {
    out.push({ file: await fileOf(entry), path: entry.fullPath.replace(/^\/+/, '') });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (let batch = await entries(reader); batch.length; batch = await entries(reader)) {
      for (const child of batch) await walk(child, out);
    }
  }
}

// The files of a drop, folders walked: [{ file, path }]. Reads the DataTransfer at once
// (it is emptied when the event handler returns), then walks the folders.
export async function dropped(dataTransfer) {
  if (!dataTransfer) return [];
  const found = [];
  for (const item of [...(dataTransfer.items || [])]) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    found.push(entry && entry.isDirectory ? { entry } : { file: item.getAsFile() });
  }
  if (!dataTransfer.items) found.push(...[...dataTransfer.files].map((file) => ({ file })));
  const out = [];
  for (const f of found) {
    if (f.entry) await walk(f.entry, out);
    else if (f.file) out.push({ file: f.file, path: f.file.name });
  }
  return out;
}
