// S3 through the JS SDK v3 (@aws-sdk/client-s3 with its default checksums, @aws-sdk/lib-storage's
// Upload) against nimbus, path style. Run by tests/python/test_js_sdk.py.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { test } from "node:test";
import { crc32 } from "node:zlib";

import { clientConfig, errorOf, sdk, unique, waitFor } from "./sdk.mjs";

const {
    S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
    ListObjectsV2Command, DeleteObjectCommand, DeleteObjectsCommand, CopyObjectCommand, GetObjectTaggingCommand,
    GetObjectAttributesCommand,
    ListMultipartUploadsCommand, ListPartsCommand, paginateListObjectsV2,
} = sdk("@aws-sdk/client-s3");
const { Upload } = sdk("@aws-sdk/lib-storage");

const MiB = 1024 * 1024;

// A client that records the requests it sends (method, path, query, headers), to show what the
// SDK put on the wire.
function recordingClient() {
    const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
    const sent = [];
    s3.middlewareStack.add(
        (next) => async (args) => {
            const { method, path, query, headers } = args.request;
            sent.push({ method, path, query: { ...query }, headers: { ...headers } });
            return next(args);
        },
        { step: "finalizeRequest", priority: "low", name: "recordRequests" },
    );
    return { s3, sent };
}

async function newBucket(s3) {
    const bucket = unique("js-sdk");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return bucket;
}

const md5 = (bytes) => createHash("md5").update(bytes).digest();
const crc32Base64 = (bytes) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(bytes));
    return out.toString("base64");
};

async function bodyBytes(answer) {
    return Buffer.from(await answer.Body.transformToByteArray());
}

test("PutObject, GetObject, ListObjectsV2 and DeleteObject with forcePathStyle", async () => {
    const { s3, sent } = recordingClient();
    const bucket = await newBucket(s3);
    const put = await s3.send(new PutObjectCommand({
        Bucket: bucket, Key: "docs/hello.txt", Body: "hello from the JS SDK",
        ContentType: "text/plain", Metadata: { owner: "ada" },
    }));
    assert.equal(put.ETag, `"${md5("hello from the JS SDK").toString("hex")}"`);
    // The SDK's default: a CRC32 of the body, sent in a header for a body it holds in memory.
    assert.equal(put.ChecksumCRC32, crc32Base64(Buffer.from("hello from the JS SDK")));
    const putRequest = sent.find((r) => r.method === "PUT" && r.path.endsWith("/hello.txt"));
    assert.equal(putRequest.path, `/${bucket}/docs/hello.txt`);
    assert.equal(putRequest.headers["x-amz-checksum-crc32"], put.ChecksumCRC32);

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/hello.txt" }));
    assert.equal(await got.Body.transformToString(), "hello from the JS SDK");
    assert.equal(got.ContentType, "text/plain");
    assert.deepEqual(got.Metadata, { owner: "ada" });
    assert.equal(got.ETag, put.ETag);

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "other.txt", Body: "x" }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "docs/" }));
    assert.equal(listed.KeyCount, 1);
    assert.deepEqual(listed.Contents.map((o) => [o.Key, o.Size, o.ETag]), [["docs/hello.txt", 21, put.ETag]]);
    const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
    assert.deepEqual(all.Contents.map((o) => o.Key), ["other.txt"]);
    assert.deepEqual(all.CommonPrefixes, [{ Prefix: "docs/" }]);

    const range = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/hello.txt", Range: "bytes=6-9" }));
    assert.equal(await range.Body.transformToString(), "from");
    assert.equal(range.ContentRange, "bytes 6-9/21");
    assert.equal(range.$metadata.httpStatusCode, 206);
    const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "docs/copy.txt", CopySource: `${bucket}/docs/hello.txt` }));
    assert.equal(copied.CopyObjectResult.ETag, put.ETag);

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "docs/hello.txt" }));
    const missing = await errorOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/hello.txt" })));
    assert.equal(missing.name, "NoSuchKey");
    assert.equal(missing.$metadata.httpStatusCode, 404);
    const headMissing = await errorOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "docs/hello.txt" })));
    assert.equal(headMissing.name, "NotFound");
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "docs/" }))).Contents.map((o) => o.Key), ["docs/copy.txt"]);
});

test("DeleteObjects with the SDK's CRC32 (no Content-MD5) and paginateListObjectsV2", async () => {
    const { s3, sent } = recordingClient();
    const bucket = await newBucket(s3);
    const keys = Array.from({ length: 7 }, (_, i) => `k/${String(i).padStart(2, "0")}`);
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
    const pages = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 3 }, { Bucket: bucket, Prefix: "k/" })) {
        pages.push(page.Contents.map((o) => o.Key));
    }
    assert.deepEqual(pages, [keys.slice(0, 3), keys.slice(3, 6), keys.slice(6)]);

    const deleted = await s3.send(new DeleteObjectsCommand({
        Bucket: bucket, Delete: { Objects: [...keys.slice(0, 5), "k/never"].map((Key) => ({ Key })) },
    }));
    const request = sent.find((r) => r.method === "POST" && "delete" in r.query);
    assert.ok(request.headers["x-amz-checksum-crc32"], "the SDK sent DeleteObjects without its CRC32");
    assert.ok(!("content-md5" in request.headers));
    assert.deepEqual(deleted.Deleted.map((d) => d.Key).sort(), [...keys.slice(0, 5), "k/never"]);
    assert.equal(deleted.Errors, undefined);
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents.map((o) => o.Key), keys.slice(5));
});

test("a streamed PutObject goes aws-chunked with a CRC32 trailer", async () => {
    const { s3, sent } = recordingClient();
    const bucket = await newBucket(s3);
    const data = randomBytes(MiB + 4321);
    const put = await s3.send(new PutObjectCommand({
        Bucket: bucket, Key: "streamed.bin", Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]),
        ContentLength: data.length,
    }));
    const request = sent.find((r) => r.method === "PUT" && r.path.endsWith("/streamed.bin"));
    assert.match(request.headers["content-encoding"], /aws-chunked/);
    assert.equal(request.headers["x-amz-trailer"], "x-amz-checksum-crc32");
    assert.equal(request.headers["x-amz-decoded-content-length"], String(data.length));
    assert.equal(put.ChecksumCRC32, crc32Base64(data));
    assert.equal(put.ETag, `"${md5(data).toString("hex")}"`);

    // GetObject asks for the checksum (ChecksumMode) and the SDK checks the body against it.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "streamed.bin", ChecksumMode: "ENABLED" }));
    assert.equal(got.ChecksumCRC32, put.ChecksumCRC32);
    assert.equal(got.ChecksumType, "FULL_OBJECT");
    assert.ok((await bodyBytes(got)).equals(data));
});

test("lib-storage Upload of 12 MiB goes multipart in 5 MiB parts and reads back byte for byte", async () => {
    const { s3, sent } = recordingClient();
    const bucket = await newBucket(s3);
    const data = randomBytes(12 * MiB + 7);
    const upload = new Upload({
        client: s3, queueSize: 2, partSize: 5 * MiB,
        params: { Bucket: bucket, Key: "big/object.bin", Body: data, ContentType: "application/octet-stream" },
        tags: [{ Key: "source", Value: "lib-storage" }],
    });
    const done = await upload.done();

    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const etag = `"${md5(Buffer.concat(parts.map(md5))).toString("hex")}-3"`;
    const composite = `${crc32Base64(Buffer.concat(parts.map((p) => Buffer.from(crc32Base64(p), "base64"))))}-3`;
    assert.equal(done.ETag, etag);
    assert.equal(done.Location, `${clientConfig.endpoint}/${bucket}/big/object.bin`);
    // Upload asked for CRC32 (the SDK's default) and sent each part's CRC32 in a header.
    const create = sent.find((r) => r.method === "POST" && "uploads" in r.query);
    assert.equal(create.headers["x-amz-checksum-algorithm"], "CRC32");
    const partRequests = sent.filter((r) => r.method === "PUT" && r.query.partNumber);
    assert.deepEqual(partRequests.map((r) => r.query.partNumber).sort(), ["1", "2", "3"]);
    for (const r of partRequests) {
        assert.equal(r.headers["x-amz-checksum-crc32"], crc32Base64(parts[Number(r.query.partNumber) - 1]));
    }
    assert.equal(done.ChecksumCRC32, composite);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big/object.bin", ChecksumMode: "ENABLED" }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ETag, etag);
    assert.equal(head.ChecksumCRC32, composite);
    assert.equal(head.ChecksumType, "COMPOSITE");
    assert.equal(head.ContentType, "application/octet-stream");
    // Upload tags the object once it is complete (PutObjectTagging).
    const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "big/object.bin" }));
    assert.deepEqual(tagging.TagSet, [{ Key: "source", Value: "lib-storage" }]);

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big/object.bin" }));
    assert.equal(got.ContentLength, data.length);
    assert.ok((await bodyBytes(got)).equals(data), "the object read back differs from what was uploaded");
    const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big/object.bin", PartNumber: 2 }));
    assert.equal(second.PartsCount, 3);
    assert.equal(second.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${data.length}`);
    assert.ok((await bodyBytes(second)).equals(parts[1]));

    const attributes = await s3.send(new GetObjectAttributesCommand({
        Bucket: bucket, Key: "big/object.bin", ObjectAttributes: ["ETag", "Checksum", "ObjectParts", "ObjectSize"],
    }));
    assert.equal(attributes.ETag, etag.replaceAll('"', ""));
    assert.deepEqual(attributes.Checksum, { ChecksumCRC32: composite.split("-")[0], ChecksumType: "COMPOSITE" });
    assert.equal(attributes.ObjectParts.TotalPartsCount, 3);
    assert.deepEqual(attributes.ObjectParts.Parts.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32]),
        parts.map((p, i) => [i + 1, p.length, crc32Base64(p)]));

    // A copy of a multipart object is written whole: an MD5 ETag and a full-object CRC32.
    const copy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "big/copy.bin", CopySource: `${bucket}/big/object.bin` }));
    assert.equal(copy.CopyObjectResult.ETag, `"${md5(data).toString("hex")}"`);
    assert.equal(copy.CopyObjectResult.ChecksumCRC32, crc32Base64(data));

    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(uploads.Uploads ?? [], []);
});

test("an aborted Upload aborts its multipart upload", async () => {
    const { s3, sent } = recordingClient();
    const bucket = await newBucket(s3);
    // A body fed by hand: the first part's bytes now, the rest only after the abort, so the
    // upload is caught half way.
    const body = new Readable({ read() {} });
    body.push(randomBytes(5 * MiB));
    const upload = new Upload({ client: s3, queueSize: 1, partSize: 5 * MiB, params: { Bucket: bucket, Key: "aborted.bin", Body: body } });
    const firstPart = new Promise((resolve) => upload.on("httpUploadProgress", (p) => p.part === 1 && resolve()));
    const done = upload.done();
    body.push(randomBytes(MiB)); // more than a part's worth has arrived: part 1 can go
    await firstPart;

    const pending = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(pending.Uploads.map((u) => u.Key), ["aborted.bin"]);
    const uploadId = pending.Uploads[0].UploadId;
    const listedParts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: "aborted.bin", UploadId: uploadId }));
    assert.deepEqual(listedParts.Parts.map((p) => [p.PartNumber, p.Size]), [[1, 5 * MiB]]);

    await upload.abort();
    const refused = await errorOf(done);
    assert.equal(refused.name, "AbortError");
    body.push(null); // the part reader wakes, sees the abort and lets Upload call AbortMultipartUpload

    await waitFor("the upload's AbortMultipartUpload", () => sent.some((r) => r.method === "DELETE" && r.query.uploadId === uploadId));
    await waitFor("ListMultipartUploads to be empty", async () => {
        const answer = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        return (answer.Uploads ?? []).length === 0;
    });
    const gone = await errorOf(s3.send(new ListPartsCommand({ Bucket: bucket, Key: "aborted.bin", UploadId: uploadId })));
    assert.equal(gone.name, "NoSuchUpload");
    const noObject = await errorOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "aborted.bin" })));
    assert.equal(noObject.name, "NotFound");
});
