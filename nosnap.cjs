require('./snapbundle-nosnap.cjs');
