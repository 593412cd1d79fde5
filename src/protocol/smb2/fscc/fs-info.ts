/** File system information classes (MS-FSCC 2.5) for SMB2 QUERY_INFO / SET_INFO with InfoType FILESYSTEM. */
import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';

export const FsInfoClass = {
  FileFsVolumeInformation: 1,
  FileFsLabelInformation: 2,
  FileFsSizeInformation: 3,
  FileFsDeviceInformation: 4,
  FileFsAttributeInformation: 5,
  FileFsControlInformation: 6,
  FileFsFullSizeInformation: 7,
  FileFsObjectIdInformation: 8,
  FileFsDriverPathInformation: 9,
  FileFsVolumeFlagsInformation: 10,
  FileFsSectorSizeInformation: 11,
} as const;

/** FileSystemAttributes of FileFsAttributeInformation (MS-FSCC 2.5.1). */
export const FileSystemAttributes = {
  FILE_CASE_SENSITIVE_SEARCH: 0x00000001,
  FILE_CASE_PRESERVED_NAMES: 0x00000002,
  FILE_UNICODE_ON_DISK: 0x00000004,
  FILE_PERSISTENT_ACLS: 0x00000008,
  FILE_FILE_COMPRESSION: 0x00000010,
  FILE_VOLUME_QUOTAS: 0x00000020,
  FILE_SUPPORTS_SPARSE_FILES: 0x00000040,
  FILE_SUPPORTS_REPARSE_POINTS: 0x00000080,
  FILE_SUPPORTS_REMOTE_STORAGE: 0x00000100,
  FILE_RETURNS_CLEANUP_RESULT_INFO: 0x00000200,
  FILE_SUPPORTS_POSIX_UNLINK_RENAME: 0x00000400,
  FILE_VOLUME_IS_COMPRESSED: 0x00008000,
  FILE_SUPPORTS_OBJECT_IDS: 0x00010000,
  FILE_SUPPORTS_ENCRYPTION: 0x00020000,
  FILE_NAMED_STREAMS: 0x00040000,
  FILE_READ_ONLY_VOLUME: 0x00080000,
  FILE_SEQUENTIAL_WRITE_ONCE: 0x00100000,
  FILE_SUPPORTS_TRANSACTIONS: 0x00200000,
  FILE_SUPPORTS_HARD_LINKS: 0x00400000,
  FILE_SUPPORTS_EXTENDED_ATTRIBUTES: 0x00800000,
  FILE_SUPPORTS_OPEN_BY_FILE_ID: 0x01000000,
  FILE_SUPPORTS_USN_JOURNAL: 0x02000000,
  FILE_SUPPORT_INTEGRITY_STREAMS: 0x04000000,
  FILE_SUPPORTS_BLOCK_REFCOUNTING: 0x08000000,
  FILE_SUPPORTS_SPARSE_VDL: 0x10000000,
} as const;

/** A sensible default for a local disk share: what clients expect of NTFS without quotas, compression or EFS. */
export const DEFAULT_FILE_SYSTEM_ATTRIBUTES =
  FileSystemAttributes.FILE_CASE_SENSITIVE_SEARCH |
  FileSystemAttributes.FILE_CASE_PRESERVED_NAMES |
  FileSystemAttributes.FILE_UNICODE_ON_DISK |
  FileSystemAttributes.FILE_PERSISTENT_ACLS |
  FileSystemAttributes.FILE_SUPPORTS_SPARSE_FILES |
  FileSystemAttributes.FILE_SUPPORTS_OBJECT_IDS |
  FileSystemAttributes.FILE_NAMED_STREAMS;

/** DeviceType of FileFsDeviceInformation (MS-FSCC 2.5.10). */
export const DeviceType = {
  FILE_DEVICE_CD_ROM: 0x00000002,
  FILE_DEVICE_DISK: 0x00000007,
  FILE_DEVICE_NAMED_PIPE: 0x00000011,
  FILE_DEVICE_NETWORK_FILE_SYSTEM: 0x00000014,
} as const;

/** Characteristics of FileFsDeviceInformation (MS-FSCC 2.5.10). */
export const DeviceCharacteristics = {
  FILE_REMOVABLE_MEDIA: 0x00000001,
  FILE_READ_ONLY_DEVICE: 0x00000002,
  FILE_FLOPPY_DISKETTE: 0x00000004,
  FILE_WRITE_ONCE_MEDIA: 0x00000008,
  FILE_REMOTE_DEVICE: 0x00000010,
  FILE_DEVICE_IS_MOUNTED: 0x00000020,
  FILE_VIRTUAL_VOLUME: 0x00000040,
  FILE_DEVICE_SECURE_OPEN: 0x00000100,
  FILE_CHARACTERISTIC_TS_DEVICE: 0x00001000,
  FILE_CHARACTERISTIC_WEBDAV_DEVICE: 0x00002000,
  FILE_DEVICE_ALLOW_APPCONTAINER_TRAVERSAL: 0x00020000,
  FILE_PORTABLE_DEVICE: 0x00040000,
} as const;

/** Flags of FileFsSectorSizeInformation (MS-FSCC 2.5.8). */
export const SectorSizeFlags = {
  SSINFO_FLAGS_ALIGNED_DEVICE: 0x00000001,
  SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE: 0x00000002,
  SSINFO_FLAGS_NO_SEEK_PENALTY: 0x00000004,
  SSINFO_FLAGS_TRIM_ENABLED: 0x00000008,
} as const;

export interface FsFacts {
  volumeCreationTime: bigint;
  volumeSerialNumber: number;
  volumeLabel: string;
  totalAllocationUnits: bigint;
  callerAvailableAllocationUnits: bigint;
  actualAvailableAllocationUnits: bigint;
  sectorsPerAllocationUnit: number;
  bytesPerSector: number;
  fileSystemAttributes: number;
  maximumComponentNameLength: number;
  /** 'NTFS' is what clients expect. */
  fileSystemName: string;
  deviceType: number;
  deviceCharacteristics: number;
  /** 16 bytes. */
  objectId: Buffer;
  /** Whether the volume supports object ids (FileFsVolumeInformation.SupportsObjects); default false. */
  supportsObjects?: boolean;
  /** FileFsSectorSizeInformation flags; default ALIGNED_DEVICE | PARTITION_ALIGNED_ON_DEVICE. */
  sectorSizeFlags?: number;
}

/** sizeof() of each structure, counting the first label/name character and alignment padding, as Windows checks it. */
const MIN_SIZE: ReadonlyMap<number, number> = new Map([
  [FsInfoClass.FileFsVolumeInformation, 24],
  [FsInfoClass.FileFsSizeInformation, 24],
  [FsInfoClass.FileFsDeviceInformation, 8],
  [FsInfoClass.FileFsAttributeInformation, 16],
  [FsInfoClass.FileFsControlInformation, 48],
  [FsInfoClass.FileFsFullSizeInformation, 32],
  [FsInfoClass.FileFsObjectIdInformation, 64],
  [FsInfoClass.FileFsSectorSizeInformation, 28],
]);

/** Fixed size of a query class's output, or undefined when the class is not supported for query. */
export function fsInfoMinSize(infoClass: number): number | undefined {
  return MIN_SIZE.get(infoClass);
}

/** Writes a file system query class. Returns false for classes not supported for query. */
export function encodeFsInfo(w: Writer, infoClass: number, f: FsFacts): boolean {
  switch (infoClass) {
    case FsInfoClass.FileFsVolumeInformation:
      w.u64(f.volumeCreationTime).u32(f.volumeSerialNumber);
      w.u32(Buffer.byteLength(f.volumeLabel, 'utf16le')).u8(f.supportsObjects ? 1 : 0).u8(0).utf16(f.volumeLabel);
      return true;
    case FsInfoClass.FileFsSizeInformation:
      w.u64(f.totalAllocationUnits).u64(f.callerAvailableAllocationUnits);
      w.u32(f.sectorsPerAllocationUnit).u32(f.bytesPerSector);
      return true;
    case FsInfoClass.FileFsDeviceInformation:
      w.u32(f.deviceType).u32(f.deviceCharacteristics);
      return true;
    case FsInfoClass.FileFsAttributeInformation:
      w.u32(f.fileSystemAttributes).u32(f.maximumComponentNameLength);
      w.u32(Buffer.byteLength(f.fileSystemName, 'utf16le')).utf16(f.fileSystemName);
      return true;
    case FsInfoClass.FileFsControlInformation:
      // No quotas: thresholds 0, DefaultQuota* = -1 (no limit), FileSystemControlFlags 0, Padding.
      w.u64(0).u64(0).u64(0).i64(-1).i64(-1).u32(0).u32(0);
      return true;
    case FsInfoClass.FileFsFullSizeInformation:
      w.u64(f.totalAllocationUnits).u64(f.callerAvailableAllocationUnits).u64(f.actualAvailableAllocationUnits);
      w.u32(f.sectorsPerAllocationUnit).u32(f.bytesPerSector);
      return true;
    case FsInfoClass.FileFsObjectIdInformation:
      if (f.objectId.length !== 16) throw new RangeError('objectId must be 16 bytes');
      w.bytes(f.objectId).zeros(48); // ExtendedInfo
      return true;
    case FsInfoClass.FileFsSectorSizeInformation: {
      const flags =
        f.sectorSizeFlags ??
        SectorSizeFlags.SSINFO_FLAGS_ALIGNED_DEVICE | SectorSizeFlags.SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE;
      // Logical, PhysicalForAtomicity, PhysicalForPerformance, EffectivePhysicalForAtomicity, Flags,
      // ByteOffsetForSectorAlignment, ByteOffsetForPartitionAlignment
      w.u32(f.bytesPerSector).u32(f.bytesPerSector).u32(f.bytesPerSector).u32(f.bytesPerSector);
      w.u32(flags).u32(0).u32(0);
      return true;
    }
    default:
      return false;
  }
}

/** Answers a QUERY_INFO for a file system class within OutputBufferLength (MS-SMB2 3.3.5.20.2). */
export function queryFsInfo(infoClass: number, f: FsFacts, outputBufferLength: number): { status: number; data: Buffer } {
  const empty = Buffer.alloc(0);
  const min = fsInfoMinSize(infoClass);
  if (min === undefined) return { status: Status.INVALID_INFO_CLASS, data: empty };
  if (outputBufferLength < min) return { status: Status.INFO_LENGTH_MISMATCH, data: empty };
  const w = new Writer(128);
  encodeFsInfo(w, infoClass, f);
  const data = w.finish();
  if (data.length <= outputBufferLength) return { status: Status.SUCCESS, data };
  return { status: Status.BUFFER_OVERFLOW, data: data.subarray(0, outputBufferLength) };
}

/** Client side: parses a file system query output into the facts it carries. */
export function decodeFsInfo(r: Reader, infoClass: number): Partial<FsFacts> {
  switch (infoClass) {
    case FsInfoClass.FileFsVolumeInformation: {
      const volumeCreationTime = r.u64();
      const volumeSerialNumber = r.u32();
      const labelLength = r.u32();
      const supportsObjects = r.u8() !== 0;
      r.skip(1);
      const volumeLabel = r.utf16(labelLength);
      return { volumeCreationTime, volumeSerialNumber, volumeLabel, supportsObjects };
    }
    case FsInfoClass.FileFsSizeInformation: {
      const totalAllocationUnits = r.u64();
      const callerAvailableAllocationUnits = r.u64();
      const sectorsPerAllocationUnit = r.u32();
      const bytesPerSector = r.u32();
      return { totalAllocationUnits, callerAvailableAllocationUnits, sectorsPerAllocationUnit, bytesPerSector };
    }
    case FsInfoClass.FileFsDeviceInformation:
      return { deviceType: r.u32(), deviceCharacteristics: r.u32() };
    case FsInfoClass.FileFsAttributeInformation: {
      const fileSystemAttributes = r.u32();
      const maximumComponentNameLength = r.u32();
      const nameLength = r.u32();
      return { fileSystemAttributes, maximumComponentNameLength, fileSystemName: r.utf16(nameLength) };
    }
    case FsInfoClass.FileFsFullSizeInformation: {
      const totalAllocationUnits = r.u64();
      const callerAvailableAllocationUnits = r.u64();
      const actualAvailableAllocationUnits = r.u64();
      const sectorsPerAllocationUnit = r.u32();
      const bytesPerSector = r.u32();
      return {
        totalAllocationUnits, callerAvailableAllocationUnits, actualAvailableAllocationUnits,
        sectorsPerAllocationUnit, bytesPerSector,
      };
    }
    case FsInfoClass.FileFsObjectIdInformation: {
      const objectId = Buffer.from(r.bytes(16));
      r.skip(48);
      return { objectId };
    }
    case FsInfoClass.FileFsSectorSizeInformation: {
      const bytesPerSector = r.u32();
      r.skip(12);
      const sectorSizeFlags = r.u32();
      r.skip(8);
      return { bytesPerSector, sectorSizeFlags };
    }
    case FsInfoClass.FileFsControlInformation:
      r.skip(48);
      return {};
    default:
      throw new WireError(`fs info class ${infoClass} not decodable`, Status.INVALID_INFO_CLASS);
  }
}

/** SET_INFO of a file system class: FileFsLabelInformation (MS-FSCC 2.5.5) and FileFsControlInformation (2.5.2). */
export type SetFsInfo =
  | { kind: 'label'; volumeLabel: string }
  | {
      kind: 'control';
      freeSpaceStartFiltering: bigint;
      freeSpaceThreshold: bigint;
      freeSpaceStopFiltering: bigint;
      defaultQuotaThreshold: bigint;
      defaultQuotaLimit: bigint;
      fileSystemControlFlags: number;
    }
  | { kind: 'unsupported'; infoClass: number };

export function decodeSetFsInfo(r: Reader, infoClass: number): SetFsInfo {
  switch (infoClass) {
    case FsInfoClass.FileFsLabelInformation: {
      if (r.remaining < 4) throw new WireError('FileFsLabelInformation too short', Status.INFO_LENGTH_MISMATCH);
      const n = r.u32();
      if (n > r.remaining || n % 2 !== 0) throw new WireError('label length outside the buffer', Status.INVALID_PARAMETER);
      return { kind: 'label', volumeLabel: r.utf16(n) };
    }
    case FsInfoClass.FileFsControlInformation: {
      if (r.remaining < 48) throw new WireError('FileFsControlInformation too short', Status.INFO_LENGTH_MISMATCH);
      const freeSpaceStartFiltering = r.i64();
      const freeSpaceThreshold = r.i64();
      const freeSpaceStopFiltering = r.i64();
      const defaultQuotaThreshold = r.i64();
      const defaultQuotaLimit = r.i64();
      const fileSystemControlFlags = r.u32();
      return {
        kind: 'control', freeSpaceStartFiltering, freeSpaceThreshold, freeSpaceStopFiltering,
        defaultQuotaThreshold, defaultQuotaLimit, fileSystemControlFlags,
      };
    }
    default:
      return { kind: 'unsupported', infoClass };
  }
}
