import { Status } from '../protocol/nt-status.js';

/**
 * Store errors (Node-style codes) to NTSTATUS: the only place this mapping happens. `leafMissing` tells
 * a missing last component (OBJECT_NAME_NOT_FOUND) from a missing parent (OBJECT_PATH_NOT_FOUND), as
 * Windows does (MS-FSA 2.1.5.1).
 */
export function storeErrorToStatus(err: unknown, where: 'leaf' | 'parent' = 'leaf'): number {
  const code = (err as { code?: unknown } | null)?.code;
  const component = (err as { component?: unknown } | null)?.component;
  switch (code) {
    case 'ENOENT':
      return component === 'parent' || where === 'parent' ? Status.OBJECT_PATH_NOT_FOUND : Status.OBJECT_NAME_NOT_FOUND;
    case 'EEXIST':
      return Status.OBJECT_NAME_COLLISION;
    case 'ENOTDIR':
      return Status.OBJECT_PATH_NOT_FOUND;
    case 'EISDIR':
      return Status.FILE_IS_A_DIRECTORY;
    case 'ENOTEMPTY':
      return Status.DIRECTORY_NOT_EMPTY;
    case 'EACCES':
    case 'EPERM':
      return Status.ACCESS_DENIED;
    case 'EROFS':
      return Status.MEDIA_WRITE_PROTECTED;
    case 'ENOSPC':
    case 'EDQUOT':
      return Status.DISK_FULL;
    case 'EFBIG':
      return Status.DISK_FULL;
    case 'ENAMETOOLONG':
      return Status.OBJECT_NAME_INVALID;
    case 'EINVAL':
      return Status.INVALID_PARAMETER;
    case 'EXDEV':
      return Status.NOT_SAME_DEVICE;
    case 'EBUSY':
      return Status.SHARING_VIOLATION;
    case 'ELOOP':
      return Status.OBJECT_NAME_NOT_FOUND;
    case 'EMFILE':
    case 'ENFILE':
      return Status.TOO_MANY_OPENED_FILES;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return Status.NOT_SUPPORTED;
    default:
      return Status.UNSUCCESSFUL;
  }
}
